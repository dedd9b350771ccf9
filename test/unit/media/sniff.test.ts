import { sniffType } from "../../../src/media/sniff";
import { elfExecutable, oggOpus, pdfDocument, pngImage, windowsExecutable } from "../../support/media-samples";

describe("the type of an attachment comes from its bytes", () => {
  it("reads a PNG as an image, whatever it was labelled", async () => {
    expect(await sniffType(pngImage(4, 4))).toEqual({ mimeType: "image/png", kind: "image" });
  });

  it("reads a Windows executable as a file, not an image", async () => {
    expect(await sniffType(windowsExecutable())).toEqual({ mimeType: "application/x-msdownload", kind: "file" });
  });

  it("makes bytes no signature proves (an ELF binary) a plain binary file", async () => {
    expect(await sniffType(elfExecutable())).toEqual({ mimeType: "application/octet-stream", kind: "file" });
  });

  it("reads a PDF as a pdf and an Ogg Opus voice message as audio", async () => {
    expect(await sniffType(pdfDocument())).toEqual({ mimeType: "application/pdf", kind: "pdf" });
    expect(await sniffType(oggOpus())).toEqual({ mimeType: "audio/opus", kind: "audio" });
  });

  it("reads UTF-8 text as text/plain and empty or control-laden bytes as binary", async () => {
    expect(await sniffType(Buffer.from("héllo wörld\n"))).toEqual({ mimeType: "text/plain", kind: "file" });
    expect(await sniffType(Buffer.alloc(0))).toEqual({ mimeType: "application/octet-stream", kind: "file" });
    expect(await sniffType(Buffer.from([0x41, 0x00, 0x42]))).toEqual({ mimeType: "application/octet-stream", kind: "file" });
  });
});
