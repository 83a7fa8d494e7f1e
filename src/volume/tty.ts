import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import * as tty from 'node:tty';

/** The user pressed Ctrl-C or Ctrl-D at a prompt. */
export class PromptCancelledError extends Error {
  constructor() {
    super('cancelled at the passphrase prompt');
    this.name = 'PromptCancelledError';
  }
}

/**
 * Asks for a line on the terminal without echoing it (raw mode, so the keys never reach the
 * screen). Reads the terminal itself, not stdin, so it works when stdin is a pipe. Throws the
 * open error (ENXIO/ENOENT) or ENOTTY when there is no terminal.
 */
export async function promptHidden(ttyPath: string, prompt: string): Promise<string> {
  const fd = fs.openSync(ttyPath, 'r+');
  if (!tty.isatty(fd)) {
    fs.closeSync(fd);
    throw Object.assign(new Error(`${ttyPath} is not a terminal`), { code: 'ENOTTY' });
  }
  const input = new tty.ReadStream(fd);
  input.setRawMode(true);
  fs.writeSync(fd, prompt);
  const decoder = new StringDecoder('utf8');
  let line = '';

  return new Promise<string>((resolve, reject) => {
    const finish = (err: Error | null): void => {
      input.off('data', onData);
      input.off('error', onError);
      try {
        input.setRawMode(false);
        fs.writeSync(fd, '\n');
      } finally {
        input.destroy(); // closes fd
      }
      if (err) reject(err);
      else resolve(line);
    };
    const onError = (err: Error): void => finish(err);
    const onData = (chunk: Buffer): void => {
      for (const ch of decoder.write(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(null);
        if (ch === '\u0003' || (ch === '\u0004' && line.length === 0)) return finish(new PromptCancelledError());
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
        else if (ch === '\u0015') line = ''; // Ctrl-U: erase the line
        else if (ch >= ' ') line += ch;
      }
    };
    input.on('data', onData);
    input.on('error', onError);
  });
}
