// MSC4144 faces: which agents have one, and how a message, an edit and a file carry it.
import { faceOf, PER_MESSAGE_PROFILE, withFace } from "../../../src/render/faces";
import { editContent } from "../../../src/turns/reply-content";

const coder = { id: "coder", displayname: "Coder" };

describe("faceOf", () => {
  it("gives the global default a face only when AGENTS_FILE gives it a displayName or avatar; every other agent one", () => {
    expect(faceOf({ name: "default" }, "default")).toBeUndefined();
    expect(faceOf({ name: "home", displayName: "Home" }, "home")).toEqual({ id: "home", displayname: "Home" });
    expect(faceOf({ name: "home", avatar: "mxc://a/b" }, "home")).toEqual({ id: "home", displayname: "home", avatarUrl: "mxc://a/b" });
    expect(faceOf({ name: "coder" }, "default")).toEqual({ id: "coder", displayname: "coder" });
  });
});

describe("withFace", () => {
  it("puts the profile on a message with the name before body and formatted body", () => {
    const out = withFace("m.room.message", { msgtype: "m.text", body: "hi", format: "org.matrix.custom.html", formatted_body: "<p>hi</p>" },
      { ...coder, avatarUrl: "mxc://a/c" });
    expect(out).toEqual({ msgtype: "m.text", body: "Coder: hi", format: "org.matrix.custom.html",
      formatted_body: "<strong data-mx-profile-fallback>Coder: </strong><p>hi</p>",
      [PER_MESSAGE_PROFILE]: { id: "coder", displayname: "Coder", avatar_url: "mxc://a/c", has_fallback: true } });
  });

  it("gives a plain body a formatted one, the name escaped and @room neutralized", () => {
    const out = withFace("m.room.message", { msgtype: "m.notice", body: "a <b>\nc" }, { id: "x", displayname: "<@room>" });
    expect(out["body"]).toMatch(/^<@\u2060?room>: a <b>\nc$/);
    expect(out["formatted_body"]).toMatch(/^<strong data-mx-profile-fallback>&lt;@\u2060?room&gt;: <\/strong>a &lt;b&gt;<br>c$/);
  });

  it("faces an edit in m.new_content, and its own fallback after the star", () => {
    const edit = editContent("$e", { msgtype: "m.text", body: "new", format: "org.matrix.custom.html", formatted_body: "<p>new</p>" });
    const out = withFace("m.room.message", edit, coder);
    expect(out["body"]).toBe("* Coder: new");
    expect(out["formatted_body"]).toBe("* <strong data-mx-profile-fallback>Coder: </strong><p>new</p>");
    expect(out).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    expect(out["m.new_content"]).toEqual({ msgtype: "m.text", body: "Coder: new", format: "org.matrix.custom.html",
      formatted_body: "<strong data-mx-profile-fallback>Coder: </strong><p>new</p>", [PER_MESSAGE_PROFILE]: { ...coder, has_fallback: true } });
    expect(out["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: "$e" });
  });

  it("gives a file the profile without a fallback (its body is its name), and leaves other events and no face alone", () => {
    const file = { msgtype: "m.file", body: "report.pdf", url: "mxc://a/f" };
    expect(withFace("m.room.message", file, coder)).toEqual({ ...file, [PER_MESSAGE_PROFILE]: { ...coder, has_fallback: false } });
    expect(withFace("m.reaction", { body: "x" }, coder)).toEqual({ body: "x" });
    expect(withFace("m.room.message", { redacts: "$e" }, coder)).toEqual({ redacts: "$e" });
    expect(withFace("m.room.message", { msgtype: "m.text", body: "x" }, undefined)).toEqual({ msgtype: "m.text", body: "x" });
  });

  it("faces a message once (a resend of a faced content is unchanged)", () => {
    const once = withFace("m.room.message", { msgtype: "m.text", body: "x" }, coder);
    expect(withFace("m.room.message", once, coder)).toEqual(once);
    const edit = withFace("m.room.message", editContent("$e", { msgtype: "m.text", body: "y" }), coder);
    expect(withFace("m.room.message", edit, coder)).toEqual(edit);
  });
});
