/** A message for the user and the exit status that goes with it. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly status = 2,
  ) {
    super(message);
  }
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
  isTTY: boolean;
  cwd: string;
}
