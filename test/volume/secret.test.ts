import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSecret, SecretError } from '../../src/volume/secret.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('resolveSecret', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-secret-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, content: string | Buffer): Promise<string> => {
    const p = path.join(dir, name);
    await fs.writeFile(p, content);
    return p;
  };

  it('a key file wins over everything and is returned as an absolute path', async () => {
    const key = await file('key', randomBytes(32));
    const pw = await file('pw', 'from-file\n');
    const rel = path.relative(process.cwd(), key);
    const secret = await resolveSecret({ keyFile: rel, passphraseFile: pw, env: { MOSAICFS_PASSPHRASE: 'env' } });
    assert.deepEqual(secret, { keyFile: key });
  });

  it('refuses a key file that is missing, a folder, or shorter than 32 bytes', async () => {
    await assert.rejects(resolveSecret({ keyFile: path.join(dir, 'nope') }), (e: unknown) => e instanceof SecretError && /cannot read key file/.test(e.message));
    await assert.rejects(resolveSecret({ keyFile: dir }), (e: unknown) => e instanceof SecretError && /not a regular file/.test(e.message));
    const short = await file('short', randomBytes(31));
    await assert.rejects(resolveSecret({ keyFile: short }), (e: unknown) => e instanceof SecretError && /too short \(31 bytes/.test(e.message));
  });

  it('a passphrase file gives its first line without the line ending, and wins over the environment', async () => {
    assert.deepEqual(await resolveSecret({ passphraseFile: await file('a', 'secret one\nsecond line\n'), env: { MOSAICFS_PASSPHRASE: 'env' } }), { passphrase: 'secret one' });
    assert.deepEqual(await resolveSecret({ passphraseFile: await file('b', 'crlf pass\r\n') }), { passphrase: 'crlf pass' });
    assert.deepEqual(await resolveSecret({ passphraseFile: await file('c', ' no newline ') }), { passphrase: ' no newline ' });
  });

  it('refuses an empty or unreadable passphrase file', async () => {
    await assert.rejects(resolveSecret({ passphraseFile: await file('empty', '\nlater line\n') }), (e: unknown) => e instanceof SecretError && /empty/.test(e.message));
    await assert.rejects(resolveSecret({ passphraseFile: path.join(dir, 'absent') }), SecretError);
  });

  it('reads MOSAICFS_PASSPHRASE, refusing an empty one', async () => {
    assert.deepEqual(await resolveSecret({ env: { MOSAICFS_PASSPHRASE: 'from env' } }), { passphrase: 'from env' });
    await assert.rejects(resolveSecret({ env: { MOSAICFS_PASSPHRASE: '' } }), /MOSAICFS_PASSPHRASE is empty/);
  });

  it('without any source and without a terminal, says which flags or variable to use', async () => {
    const notATty = await file('plain', '');
    for (const ttyPath of [notATty, path.join(dir, 'no-such-tty')]) {
      await assert.rejects(resolveSecret({ env: {}, ttyPath }), (e: unknown) => {
        assert.ok(e instanceof SecretError);
        assert.match(e.message, /--passphrase-file.*--key-file.*MOSAICFS_PASSPHRASE/);
        return true;
      });
    }
  });

  it('prompts on the terminal without echo, asking twice when confirming', { skip: hasScript ? false : 'script(1) is not installed' }, async () => {
    const { output, result } = await promptInPty('confirm', ['hunter2\r', 'hunter2\r']);
    assert.equal(result, `RESULT ${Buffer.from('hunter2').toString('hex')}`);
    assert.match(output, /Passphrase: [\s\S]*Repeat passphrase: /);
    assert.ok(!output.includes('hunter2'), `the passphrase was echoed: ${JSON.stringify(output)}`);
  });

  it('refuses mismatched confirmation and an empty passphrase at the prompt', { skip: hasScript ? false : 'script(1) is not installed' }, async () => {
    assert.match((await promptInPty('confirm', ['one\r', 'two\r'])).result, /^ERROR SecretError: the passphrases do not match/);
    assert.match((await promptInPty('once', ['\r'])).result, /^ERROR SecretError: .*empty/);
    assert.match((await promptInPty('once', ['ab\u007fc\r'])).result, new RegExp(`^RESULT ${Buffer.from('ac').toString('hex')}$`));
  });
});

/**
 * Runs test/volume/promptSecret in a pseudo-terminal (script(1)) and types each answer once the
 * next prompt has appeared (so raw mode is on and nothing is echoed by the terminal either).
 */
function promptInPty(mode: string, answers: string[]): Promise<{ output: string; result: string }> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const script = fileURLToPath(new URL(`./promptSecret${ext}`, import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
  const command = [process.execPath, ...execArgv, script, mode].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: 'pipe' });
  return new Promise((resolve, reject) => {
    let output = '';
    let prompts = 0;
    let done = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`prompt test timed out; output so far: ${JSON.stringify(output)}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const seen = (output.match(/[Pp]assphrase: /g) ?? []).length;
      while (prompts < seen && prompts < answers.length) child.stdin.write(answers[prompts++]);
      const m = /(RESULT|ERROR)[^\r\n]*\r?\n/.exec(output);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        child.stdin.end();
        const answer = { output: output.slice(0, m.index), result: m[0].trim() };
        if (child.exitCode !== null) resolve(answer);
        else child.once('exit', () => resolve(answer));
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
