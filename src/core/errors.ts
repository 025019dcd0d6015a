// One base error for the project's own failures: a stable `code` for
// programs, a message for people, and the context fields that explain it.
export class EnxameError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
