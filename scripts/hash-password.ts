/**
 * `npm run hash-password [-- name role]`: read a password (twice, hidden when
 * on a terminal) and print an AUTH_USERS entry with its scrypt hash.
 */
import { createInterface } from 'node:readline';
import { hashPassword, ROLES } from '../server/auth/users.ts';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  const out = process.stderr;
  if (process.stdin.isTTY) {
    // hide typed characters
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) out.write(s);
    };
  }
  const answer = await new Promise<string>((r) => rl.question(question, r));
  rl.close();
  if (process.stdin.isTTY) out.write('\n');
  return answer;
}

const [name = 'admin', role = 'operator'] = process.argv.slice(2);
if (!(ROLES as readonly string[]).includes(role)) {
  process.stderr.write(`role must be one of ${ROLES.join(', ')}\n`);
  process.exit(2);
}
const password = await ask('Password: ');
if (process.stdin.isTTY) {
  const again = await ask('Again: ');
  if (again !== password) {
    process.stderr.write('The passwords differ.\n');
    process.exit(2);
  }
}
if (password.length < 8) {
  process.stderr.write('Use at least 8 characters.\n');
  process.exit(2);
}
process.stdout.write(`${name}:${role}:${await hashPassword(password)}\n`);
