// How the agent's work reads: one compact status line (running, done, failed with a short reason; repeats merged;
// the latest entries), details folded in <details> only on request, every agent string escaped, cleaned and
// bounded, reasoning never shown without details.
import { renderMarkdown } from "../../../src/matrix/format";
import { Work } from "../../../src/render/work";
import { statusLine, withWork, workView, WORK_VIEW_LIMITS } from "../../../src/render/work-view";

function work(...apply: Array<Parameters<Work["apply"]>[0]>): Work {
  const w = new Work();
  for (const e of apply) w.apply(e);
  return w;
}

test("a tool call reads 🔧 while it runs, ✓ when done, ✗ with its short reason when it failed; steps the same", () => {
  const w = work({ kind: "tool_start", toolCallId: "a", name: "search_docs" }, { kind: "step_start", name: "plan" });
  expect(statusLine(w)).toBe("🔧 search_docs… · ⏳ plan…");
  w.apply({ kind: "tool_result", toolCallId: "a", content: "3 pages" });
  w.apply({ kind: "step_end", name: "plan" });
  expect(statusLine(w)).toBe("✓ search_docs · ✓ plan");
  w.apply({ kind: "tool_start", toolCallId: "b", name: "fetch_page" });
  w.apply({ kind: "tool_result", toolCallId: "b", content: "", error: "connection refused\nat line 3 of a long stack trace" });
  expect(statusLine(w)).toBe("✓ search_docs · ✓ plan · ✗ fetch_page: connection refused at line 3 of a long stack trace");
});

test("repeats are merged, only the latest entries are listed, and what runs at the end of a failed run failed", () => {
  const w = new Work();
  for (let i = 0; i < 3; i += 1) {
    w.apply({ kind: "tool_start", toolCallId: `s${i}`, name: "search" });
    w.apply({ kind: "tool_result", toolCallId: `s${i}`, content: "ok" });
  }
  expect(statusLine(w)).toBe("✓ search ×3");
  for (let i = 0; i < 12; i += 1) w.apply({ kind: "tool_start", toolCallId: `t${i}`, name: `tool${i}` });
  const line = statusLine(w) ?? "";
  expect(line.startsWith("… 5 earlier · 🔧 tool4… ·")).toBe(true);
  expect(line.endsWith("🔧 tool11…")).toBe(true);
  w.end(false);
  expect(statusLine(w)).toContain("✗ tool11: not finished");
});

test("reasoning alone shows nothing unless details are on; then it is a folded Thinking part", () => {
  const w = work({ kind: "reasoning", messageId: "r", delta: "The user wants <b>bold</b> & more." });
  expect(workView(w, false)).toBeUndefined();
  const view = workView(w, true);
  expect(view?.html).toBe("<details><summary>💭 Thinking</summary><blockquote>The user wants &lt;b&gt;bold&lt;/b&gt; &amp; more.</blockquote></details>");
  expect(view?.body).toBe("💭 Thinking\n  The user wants <b>bold</b> & more.");
});

test("details: each call's arguments (JSON pretty-printed) and result, folded, escaped, cleaned", () => {
  const w = work(
    { kind: "tool_start", toolCallId: "a", name: "search_docs" },
    { kind: "tool_args", toolCallId: "a", delta: '{"query":' },
    { kind: "tool_args", toolCallId: "a", delta: '"<script>alert(1)</script>"}' },
    { kind: "tool_result", toolCallId: "a", content: "Found \u202Eevil\u202C pages" },
  );
  expect(workView(w, false)).toEqual({ body: "✓ search_docs", html: "<p>✓ search_docs</p>" });
  const view = workView(w, true);
  expect(view?.html).toBe([
    "<p>✓ search_docs</p>",
    '<details><summary>✓ search_docs</summary><p>Arguments</p><pre><code>{\n  "query": "&lt;script&gt;alert(1)&lt;/script&gt;"\n}</code></pre>'
      + "<p>Result</p><pre><code>Found evil pages</code></pre></details>",
  ].join("\n"));
  expect(view?.body).toBe('✓ search_docs\n\n✓ search_docs\n  Arguments:\n  {\n    "query": "<script>alert(1)</script>"\n  }\n  Result:\n  Found evil pages');
});

test("everything is bounded: long names, reasons, arguments, results and reasoning are cut; the view stays small", () => {
  const huge = "x<".repeat(50_000);
  const w = new Work();
  w.apply({ kind: "reasoning", messageId: "r", delta: huge });
  for (let i = 0; i < 200; i += 1) {
    w.apply({ kind: "tool_start", toolCallId: `c${i}`, name: `${i}${"n".repeat(200)}` });
    w.apply({ kind: "tool_args", toolCallId: `c${i}`, delta: huge });
    w.apply({ kind: "tool_result", toolCallId: `c${i}`, content: huge, error: huge });
  }
  for (const details of [false, true]) {
    const view = workView(w, details);
    expect(view).toBeDefined();
    expect(Buffer.byteLength(JSON.stringify(view), "utf8")).toBeLessThanOrEqual(WORK_VIEW_LIMITS.viewBytes);
  }
  expect(statusLine(w)).toMatch(/^… 192 earlier · ✗ 92n+…: x<(x<)*… · /); // 100 items kept (the first), 100 counted, 8 listed
  expect(workView(w, true)?.body).toContain("(truncated)");
});

test("the view goes above the text: plain text gains the HTML markdown would have given it", () => {
  const view = workView(work({ kind: "tool_start", toolCallId: "a", name: "calc" }), false);
  if (!view) throw new Error("no view");
  const plain = withWork({ msgtype: "m.text", body: "It is 4." }, view, "m.text");
  expect(plain).toEqual({ msgtype: "m.text", body: "🔧 calc…\n\nIt is 4.", format: "org.matrix.custom.html", formatted_body: "<p>🔧 calc…</p>\n<p>It is 4.</p>" });
  const md = renderMarkdown("**4**");
  const rich = withWork({ msgtype: "m.text", body: md.body, format: "org.matrix.custom.html", formatted_body: md.formatted_body ?? "" }, view, "m.text");
  expect(rich.formatted_body).toBe(`<p>🔧 calc…</p>\n${md.formatted_body}`);
  expect(withWork(undefined, view, "m.text")).toEqual({ msgtype: "m.text", body: "🔧 calc…", format: "org.matrix.custom.html", formatted_body: "<p>🔧 calc…</p>" });
});
