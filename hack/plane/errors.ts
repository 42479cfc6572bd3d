/** A failure of the local control plane tooling, with a message meant for the user. */
export class PlaneError extends Error {
  override readonly name = "PlaneError";
}
