/** A failure of the image tooling (tools, base, build), with a message meant for the user. */
export class ImageError extends Error {
  override readonly name = "ImageError";
}
