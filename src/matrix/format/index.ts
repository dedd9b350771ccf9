/** Agent text → Matrix message contents. Pure functions: no I/O, no matrix-bot-sdk. */
export { DEFAULT_MAX_AGENT_CHARS, TRUNCATION_MARKER, cleanAgentText } from "./clean";
export { MATRIX_HTML_FORMAT, type RenderedMarkdown, renderMarkdown, sanitizeMatrixHtml } from "./render";
export {
  BuildMessageOptionsSchema,
  MATRIX_EVENT_LIMIT_BYTES,
  MIN_CONTENT_BYTES,
  type BuildMessageOptions,
  type MessageContent,
  type MessageType,
  buildMessageContents,
  contentBytes,
} from "./contents";
export { ROOM_MENTION_GUARD, type Mentions, mentionsFor, neutralizeRoomMentions } from "./mentions";
