import fc from "fast-check";
import { renderMarkdown, sanitizeMatrixHtml } from "../../../src/matrix/format";
import { renderThroughMarkdownIt } from "../../../src/matrix/format/render";

// No tag (as opposed to escaped text) may carry an event handler or a script URL.
const TAG_WITH_HANDLER = /<[^>]*\son\w+\s*=/i;
const SCRIPT_URL = /<[^>]*(?:href|src)\s*=\s*"?\s*(?:javascript|vbscript|data):/i;

describe("renderMarkdown", () => {
  it("keeps the markdown source as the plain-text body", () => {
    const md = "**Hello** _there_";
    expect(renderMarkdown(md).body).toBe(md);
  });

  it("omits formatted_body for a plain paragraph, even with characters HTML escapes", () => {
    expect(renderMarkdown("just words")).toEqual({ body: "just words" });
    expect(renderMarkdown('1 < 2 & "3" > 0')).toEqual({ body: '1 < 2 & "3" > 0' });
    expect(renderMarkdown("line one\nline two\n\nsecond paragraph")).toEqual({ body: "line one\nline two\n\nsecond paragraph" });
  });

  it("a plain line takes a shortcut that gives exactly what markdown-it would", () => {
    // The shortcut's alphabet, plus characters just outside it, so that near misses are generated too.
    const char = fc.constantFrom(..."aZé9 ,;:?'’\"", ..."ok Thanks", ".", "-", "*", "#", "(", ")", "@", "/", "_", "`", "\n", "1");
    fc.assert(fc.property(fc.array(char, { maxLength: 30 }).map((cs) => cs.join("")), (md) => {
      expect(renderMarkdown(md)).toEqual(renderThroughMarkdownIt(md));
    }), { numRuns: 2000 });
    expect(renderMarkdown("    indented")).toEqual(renderThroughMarkdownIt("    indented"));
  });

  it("omits formatted_body when the markdown renders to nothing", () => {
    expect(renderMarkdown("[ref]: https://example.org")).toEqual({ body: "[ref]: https://example.org" });
  });

  it("keeps formatted_body when markdown escapes change what is shown", () => {
    expect(renderMarkdown("\\*not emphasis\\*").formatted_body).toBe("<p>*not emphasis*</p>");
  });

  it("renders emphasis, strikethrough, inline code and headings", () => {
    const html = renderMarkdown("# Title\n\n**bold** *it* ~~gone~~ `x < y`").formatted_body;
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<em>it</em>");
    expect(html).toContain("<s>gone</s>");
    expect(html).toContain("<code>x &lt; y</code>");
  });

  it("renders line breaks inside a paragraph as <br /> (chat style)", () => {
    expect(renderMarkdown("a\n**b**").formatted_body).toBe("<p>a<br />\n<strong>b</strong></p>");
  });

  it("renders bullet and numbered lists, keeping a start number", () => {
    const html = renderMarkdown("- one\n- two\n\n3. three\n4. four").formatted_body ?? "";
    expect(html).toMatch(/<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/);
    expect(html).toMatch(/<ol start="3">\s*<li>three<\/li>/);
  });

  it("renders fenced code with a language class and escapes its content", () => {
    const html = renderMarkdown('```typescript\nconst a = "<b>" && 1;\n```').formatted_body;
    expect(html).toBe('<pre><code class="language-typescript">const a = "&lt;b&gt;" &amp;&amp; 1;\n</code></pre>');
  });

  it("renders links and linkifies bare URLs", () => {
    const html = renderMarkdown("[docs](https://example.org/a?b=1&c=2) and https://matrix.org").formatted_body;
    expect(html).toContain('<a href="https://example.org/a?b=1&amp;c=2">docs</a>');
    expect(html).toContain('<a href="https://matrix.org">https://matrix.org</a>');
  });

  it("keeps matrix:, mailto: and magnet: links", () => {
    const html = renderMarkdown("[a](matrix:u/alice:example.org) [b](mailto:a@example.org) [c](magnet:?xt=urn:btih:abc)").formatted_body;
    expect(html).toContain('href="matrix:u/alice:example.org"');
    expect(html).toContain('href="mailto:a@example.org"');
    expect(html).toContain('href="magnet:?xt=urn:btih:abc"');
  });

  it("renders tables", () => {
    const html = renderMarkdown("| name | n |\n|---|--:|\n| a | 1 |").formatted_body ?? "";
    expect(html).toMatch(/<table>\s*<thead>\s*<tr>\s*<th>name<\/th>\s*<th>n<\/th>/);
    expect(html).toMatch(/<tbody>\s*<tr>\s*<td>a<\/td>\s*<td>1<\/td>/);
    expect(html).not.toContain("style");
  });

  it("does not turn raw HTML in agent text into tags", () => {
    const md = 'Look: <script>alert(1)</script> <img src=x onerror="alert(1)"> <b onclick="x">b</b>\n\n**and**';
    const html = renderMarkdown(md).formatted_body ?? "";
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toMatch(TAG_WITH_HANDLER);
    expect(html).toContain("&lt;script&gt;");
  });

  it("does not create javascript:, vbscript: or data: links", () => {
    const md = "[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](vbscript:x) [d](data:text/html,x) **x**";
    const html = renderMarkdown(md).formatted_body ?? "";
    expect(html).not.toMatch(SCRIPT_URL);
    expect(html).not.toMatch(/href="[^"]*script:/i);
  });

  it("drops relative and other-scheme link targets, keeping the text", () => {
    const html = renderMarkdown("[rel](/etc/passwd) [tel](tel:123) [file](file:///etc/passwd) **x**").formatted_body ?? "";
    expect(html).not.toContain("href");
    expect(html).toContain("rel");
    expect(html).toContain("tel");
  });

  it("never embeds an image that is not mxc:, offering it as a link instead", () => {
    const html = renderMarkdown("![chart](https://example.org/c.png) ![](http://example.org/pixel.gif)").formatted_body ?? "";
    expect(html).not.toContain("<img");
    expect(html).toContain('<a href="https://example.org/c.png">chart</a>');
    expect(html).toContain('<a href="http://example.org/pixel.gif">http://example.org/pixel.gif</a>');
  });

  it("keeps mxc: images", () => {
    const html = renderMarkdown("![cat](mxc://example.org/abc123)").formatted_body;
    expect(html).toBe('<p><img src="mxc://example.org/abc123" alt="cat" /></p>');
  });

  it("does not nest a link inside a link for a linked non-mxc image", () => {
    const html = renderMarkdown("[![badge](https://img.example/b.svg)](https://example.org)").formatted_body;
    expect(html).toBe('<p><a href="https://example.org">badge</a></p>');
  });
});

describe("sanitizeMatrixHtml", () => {
  it("removes scripts, styles, iframes and event handlers", () => {
    const html = sanitizeMatrixHtml(
      '<p onclick="x" style="color:red">hi</p><script>alert(1)</script><style>p{}</style><iframe src="https://x"></iframe>',
    );
    expect(html).toBe("<p>hi</p>");
  });

  it("allows only mxc: image sources and the spec's image attributes", () => {
    expect(sanitizeMatrixHtml('<img src="https://x.org/a.png" alt="a">')).toBe("");
    expect(sanitizeMatrixHtml('<img src="data:image/png;base64,AAAA">')).toBe("");
    expect(sanitizeMatrixHtml('<img src="mxc://x.org/a" onerror="alert(1)" width="10" height="5" title="t" alt="a" class="c">')).toBe(
      '<img src="mxc://x.org/a" width="10" height="5" title="t" alt="a" />',
    );
  });

  it("allows the spec's link schemes only", () => {
    expect(sanitizeMatrixHtml('<a href="javascript:alert(1)">x</a>')).toBe("<span>x</span>");
    expect(sanitizeMatrixHtml('<a href="java\tscript:alert(1)">x</a>')).toBe("<span>x</span>");
    expect(sanitizeMatrixHtml('<a href="//evil.example/x">x</a>')).toBe("<span>x</span>");
    expect(sanitizeMatrixHtml('<a href="ftp://x.org/f" target="_blank" rel="x">f</a>')).toBe('<a href="ftp://x.org/f" target="_blank">f</a>');
  });

  it("keeps only language-* classes on code", () => {
    expect(sanitizeMatrixHtml('<pre><code class="language-rust evil">x</code></pre>')).toBe('<pre><code class="language-rust">x</code></pre>');
    expect(sanitizeMatrixHtml('<span class="x">y</span>')).toBe("<span>y</span>");
  });

  it("keeps Matrix colour and spoiler attributes, only with valid colours", () => {
    expect(sanitizeMatrixHtml('<span data-mx-color="#00ff00" data-mx-bg-color="red;x" data-mx-spoiler="why">s</span>')).toBe(
      '<span data-mx-color="#00ff00" data-mx-spoiler="why">s</span>',
    );
    expect(sanitizeMatrixHtml('<font color="#ABCDEF" face="x">f</font>')).toBe('<font color="#ABCDEF">f</font>');
  });

  it("keeps details/summary, tables, sup/sub, and ol start", () => {
    const html = '<details><summary>s</summary><table><caption>c</caption><tbody><tr><td>x<sup>2</sup><sub>i</sub></td></tr></tbody></table></details><ol start="4"><li>x</li></ol>';
    expect(sanitizeMatrixHtml(html)).toBe(html);
  });

  it("drops content nested deeper than 100 levels", () => {
    const deep = "<div>".repeat(150) + "deep" + "</div>".repeat(150);
    const html = sanitizeMatrixHtml(deep);
    expect((html.match(/<div>/g) ?? []).length).toBeLessThanOrEqual(100);
  });
});

describe("folds in agent text", () => {
  it("turns a paragraph <details><summary>…</summary> and a closing </details> into a fold, the summary as text", () => {
    const { formatted_body: html } = renderMarkdown("<details><summary>Transcript of a <b>.ogg</summary>\n\nhello *there*\n\n</details>\n\nThe answer.");
    expect(html).toBe("<details><summary>Transcript of a &lt;b&gt;.ogg</summary>\n<p>hello <em>there</em></p>\n</details>\n<p>The answer.</p>");
  });

  it("leaves an unbalanced or nested fold as text", () => {
    expect(renderMarkdown("<details><summary>x</summary>\n\nno end").formatted_body).toBeUndefined();
    expect(renderMarkdown("</details>\n\n<details><summary>x</summary>").formatted_body).toBeUndefined();
  });
});
