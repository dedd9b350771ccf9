// The `calculator` tool: arithmetic on numbers, never code. A small recursive-descent parser over + - * / % ^,
// parentheses, unary signs, the constants pi and e and a few functions (sqrt, abs, round, floor, ceil, exp, ln,
// log10, sin, cos, tan, min, max, pow). Anything else is an error the model is told.

const FUNCTIONS: Record<string, (...xs: number[]) => number> = {
  sqrt: Math.sqrt, abs: Math.abs, round: Math.round, floor: Math.floor, ceil: Math.ceil, exp: Math.exp,
  ln: Math.log, log: Math.log10, log10: Math.log10, sin: Math.sin, cos: Math.cos, tan: Math.tan,
  min: Math.min, max: Math.max, pow: Math.pow,
};
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

/** Longest expression read (characters). */
export const CALCULATOR_MAX_CHARS = 1_000;

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly src: string) {}

  parse(): number {
    const value = this.sum();
    this.space();
    if (this.pos < this.src.length) throw new Error(`unexpected "${this.src[this.pos]}" at position ${this.pos + 1}`);
    return value;
  }

  private space(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? "")) this.pos++;
  }

  private eat(ch: string): boolean {
    this.space();
    if (this.src.startsWith(ch, this.pos)) {
      this.pos += ch.length;
      return true;
    }
    return false;
  }

  private sum(): number {
    let value = this.product();
    for (;;) {
      if (this.eat("+")) value += this.product();
      else if (this.eat("-")) value -= this.product();
      else return value;
    }
  }

  private product(): number {
    let value = this.unary();
    for (;;) {
      if (this.eat("*")) value *= this.unary();
      else if (this.eat("/")) {
        const d = this.unary();
        if (d === 0) throw new Error("division by zero");
        value /= d;
      } else if (this.eat("%")) value %= this.unary();
      else return value;
    }
  }

  /** A sign binds less tightly than a power: -2^2 is -4. */
  private unary(): number {
    if (this.eat("-")) return -this.unary();
    if (this.eat("+")) return this.unary();
    return this.power();
  }

  private power(): number {
    const base = this.atom();
    if (this.eat("^") || this.eat("**")) return base ** this.powerRight();
    return base;
  }

  /** Exponents are right-associative and may carry a sign: 2^-1, 2^3^2 = 2^9. */
  private powerRight(): number {
    if (this.eat("-")) return -this.powerRight();
    if (this.eat("+")) return this.powerRight();
    return this.power();
  }

  private atom(): number {
    this.space();
    if (this.eat("(")) {
      if (++this.depth > 100) throw new Error("too deeply nested");
      const value = this.sum();
      if (!this.eat(")")) throw new Error("missing )");
      this.depth--;
      return value;
    }
    const number = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(this.src.slice(this.pos));
    if (number) {
      this.pos += number[0].length;
      return Number(number[0]);
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    if (!word) throw new Error(this.pos >= this.src.length ? "the expression ends too early" : `unexpected "${this.src[this.pos]}" at position ${this.pos + 1}`);
    const name = word[0].toLowerCase();
    this.pos += word[0].length;
    const fn = FUNCTIONS[name];
    if (fn) {
      if (!this.eat("(")) throw new Error(`${name} needs its arguments in parentheses`);
      const args = [this.sum()];
      while (this.eat(",")) args.push(this.sum());
      if (!this.eat(")")) throw new Error("missing )");
      return fn(...args);
    }
    const constant = CONSTANTS[name];
    if (constant !== undefined) return constant;
    throw new Error(`unknown name "${word[0]}"`);
  }
}

/** The value of an arithmetic expression; throws an Error whose message says what is wrong. */
export function calculate(expression: string): number {
  if (expression.length > CALCULATOR_MAX_CHARS) throw new Error(`the expression is longer than ${CALCULATOR_MAX_CHARS} characters`);
  if (expression.trim() === "") throw new Error("the expression is empty");
  const value = new Parser(expression).parse();
  if (!Number.isFinite(value)) throw new Error("the result is not a finite number");
  return value;
}
