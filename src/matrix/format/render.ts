/**
 * Markdown → Matrix `org.matrix.custom.html`, sanitized with the allowlist the Client-Server spec
 * recommends ("m.room.message msgtypes", HTML). Raw HTML in the markdown is not interpreted (it shows as
 * text); the sanitizer is a second layer that also guards anything else producing HTML.
 */
import MarkdownIt from "markdown-it";
import sanitizeHtml from "sanitize-html";

export const MATRIX_HTML_FORMAT = "org.matrix.custom.html";

export interface RenderedMarkdown {
  /** The markdown source: readable as plain text. */
  body: string;
  /** Sanitized HTML; absent when it would add nothing over `body` (one plain paragraph, or nothing). */
  formatted_body?: string;
}

const ALLOWED_TAGS = [
  "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol", "sup", "sub", "li",
  "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div", "table", "thead", "tbody", "tr", "th", "td",
  "caption", "pre", "span", "img", "details", "summary",
];
const LINK_SCHEMES = ["https", "http", "ftp", "mailto", "magnet", "matrix"];
const ABSOLUTE_LINK = new RegExp(`^(?:${LINK_SCHEMES.join("|")}):`, "i");
const MXC_URI = /^mxc:\/\/[^\s/]+\/[^\s/]+$/i;
const COLOUR = /^#[0-9a-fA-F]{6}$/;
const COLOUR_ATTRIBUTES = ["data-mx-color", "data-mx-bg-color", "color"];

function keepValidColours(tagName: string, attribs: sanitizeHtml.Attributes): sanitizeHtml.Tag {
  const kept: sanitizeHtml.Attributes = {};
  for (const [name, value] of Object.entries(attribs)) {
    if (COLOUR_ATTRIBUTES.includes(name) && !COLOUR.test(value)) continue;
    kept[name] = value;
  }
  return { tagName, attribs: kept };
}

const SANITIZE_OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: ALLOWED_TAGS,
  allowedAttributes: {
    font: ["data-mx-bg-color", "data-mx-color", "color"],
    span: ["data-mx-bg-color", "data-mx-color", "data-mx-spoiler", "data-mx-maths"],
    div: ["data-mx-maths"],
    a: ["href", "target"],
    img: ["width", "height", "alt", "title", "src"],
    ol: ["start"],
    code: ["class"],
  },
  allowedClasses: { code: ["language-*"] },
  allowedSchemes: LINK_SCHEMES,
  allowedSchemesByTag: { img: ["mxc"] },
  allowedSchemesAppliedToAttributes: ["href", "src"],
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  // The spec asks clients to limit nesting; deeper content is dropped here rather than there.
  nestingLimit: 100,
  transformTags: {
    font: keepValidColours,
    span: keepValidColours,
    a: (tagName, attribs) => {
      const { href, ...rest } = attribs;
      // Relative links would resolve against the reader's client; only absolute allowed schemes stay,
      // and a link left without a target is shown as plain text.
      if (href !== undefined && ABSOLUTE_LINK.test(href.trim())) return { tagName, attribs: { href, ...rest } };
      return { tagName: "span", attribs: {} };
    },
  },
  // Clients must only load images from the homeserver's media repository.
  exclusiveFilter: (frame) => frame.tag === "img" && !MXC_URI.test(frame.attribs["src"] ?? ""),
};

/** Sanitizes HTML to the Matrix allowlist (tags, attributes, link schemes, `mxc:` images only). */
export function sanitizeMatrixHtml(html: string): string {
  return sanitizeHtml(html, SANITIZE_OPTIONS);
}

const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });

const renderImage = markdown.renderer.rules.image;
markdown.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const src = String(token?.attrGet("src") ?? "");
  if (token === undefined || renderImage === undefined) return "";
  if (MXC_URI.test(src)) return renderImage(tokens, idx, options, env, self);
  // Not from the media repository: no client may load it, so offer it as a link to open instead.
  const label = markdown.utils.escapeHtml(self.renderInlineAsText(token.children ?? [], options, env) || src);
  if (insideLink(tokens, idx)) return label;
  return `<a href="${markdown.utils.escapeHtml(src)}">${label}</a>`;
};

function insideLink(tokens: ReadonlyArray<{ type: string }>, idx: number): boolean {
  let depth = 0;
  for (let i = 0; i < idx; i += 1) {
    const type = tokens[i]?.type;
    if (type === "link_open") depth += 1;
    else if (type === "link_close") depth -= 1;
  }
  return depth > 0;
}

/**
 * One line of words, digits, spaces and a few punctuation marks that no markdown rule and no linkify pattern
 * reacts to (no `.`, `-`, `*`, `#`, `[`, `<`, `&`, `@`, `/`, parentheses, line breaks or leading indentation):
 * it renders as a plain paragraph, so there is nothing to render. Short answers ("ok", "Thanks, done") skip
 * markdown-it and sanitize-html.
 */
const PLAIN_LINE = /^(?! {4})[\p{L}\p{M}\p{N} ,;:?'’"]*$/u;

/** Renders (already cleaned) markdown to a Matrix message body and, when it adds something, HTML. */
export function renderMarkdown(md: string): RenderedMarkdown {
  if (PLAIN_LINE.test(md)) return { body: md };
  return renderThroughMarkdownIt(md);
}

/** renderMarkdown without the shortcut for plain lines (tests check that both agree). */
export function renderThroughMarkdownIt(md: string): RenderedMarkdown {
  const html = sanitizeMatrixHtml(foldDetails(markdown.render(md))).trim();
  if (html === "" || isPlainParagraphs(html, md)) return { body: md };
  return { body: md, formatted_body: html };
}

const DETAILS_OPEN = /<p>&lt;details&gt;&lt;summary&gt;([^<]*?)&lt;\/summary&gt;<\/p>/g;
const DETAILS_CLOSE = /<p>&lt;\/details&gt;<\/p>/g;

/**
 * The one piece of raw HTML agent text may use: a fold. A paragraph that is exactly `<details><summary>text</summary>`
 * and a later one that is exactly `</details>` become a `<details>` block (the summary stays escaped text); unbalanced
 * or any other raw HTML stays text.
 */
function foldDetails(html: string): string {
  const opens = html.match(DETAILS_OPEN)?.length ?? 0;
  if (opens === 0 || opens !== (html.match(DETAILS_CLOSE)?.length ?? 0)) return html;
  let depth = 0;
  for (const m of html.matchAll(/<p>&lt;(\/?)details&gt;/g)) {
    depth += m[1] === "/" ? -1 : 1;
    if (depth < 0 || depth > 1) return html;
  }
  return html.replace(DETAILS_OPEN, "<details><summary>$1</summary>").replace(DETAILS_CLOSE, "</details>");
}

const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&amp;": "&", "&#39;": "'" };

/** True when the HTML is only paragraphs and line breaks whose text is exactly the markdown source. */
function isPlainParagraphs(html: string, md: string): boolean {
  if (!html.startsWith("<p>") || !html.endsWith("</p>")) return false;
  const text = html
    .slice(3, -4)
    .replace(/<\/p>\n*<p>/g, "\n\n")
    .replace(/<br \/>\n?/g, "\n");
  if (text.includes("<")) return false;
  const decoded = text.replace(/&(?:lt|gt|quot|amp|#39);/g, (entity) => ENTITIES[entity] ?? entity);
  return decoded === md.trim();
}
