import { basename } from 'node:path';

/**
 * Hides passwords in command lines before they are stored (the manifest) or printed (log lines,
 * error messages): a dump tool's argv often carries one. The one place that knows the patterns:
 *  - `--password=X`, `PGPASSWORD=X`, `MYSQL_PWD=X`, libpq's `password=X`, `--db-secret=X`, any
 *    `NAME=value` whose name contains password, passwd, pwd, secret or token;
 *  - `-pX` (and mydumper's and myloader's `-p X`, `--password X`) for the MySQL family;
 *  - URLs with `user:password@`.
 * The value becomes `***`; everything else is kept, so the command stays recognisable.
 */
export const REDACTED = '***';

const MYSQL_FAMILY = /^(mysql[\w-]*|mariadb[\w-]*|mydumper|myloader)$/;
/** Tools whose password flag takes its value as the next argument. */
const PASSWORD_IN_NEXT_ARG = /^(mydumper|myloader)$/;

const ASSIGNMENT = /(^|[\s'"(;&|])((?:--?)?[\w.-]*(?:password|passwd|pwd|secret|token)[\w.-]*)=("[^"]*"|'[^']*'|[^\s'"]+)/gi;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]*):([^@\s/'"]+)@/gi;
/** `-pSECRET` after a MySQL-family program name in a shell text, up to the end of that command. */
const MYSQL_IN_TEXT = /(\b(?:mysql[\w-]*|mariadb[\w-]*|mydumper|myloader)\b[^;|&\n]*?\s)-p([^\s'";|&]+)/g;

/** `text` with password-like values replaced by ***: for log lines, error messages, shell scripts. */
export function redactText(text: string): string {
  let out = text.replace(URL_USERINFO, (_m, head: string) => `${head}:${REDACTED}@`);
  out = out.replace(ASSIGNMENT, (_m, pre: string, name: string) => `${pre}${name}=${REDACTED}`);
  // Repeat: one command may carry several -p flags (one per tool of a pipeline).
  for (let prev = ''; prev !== out; ) {
    prev = out;
    out = out.replace(MYSQL_IN_TEXT, (m, head: string, value: string) => (value === REDACTED ? m : `${head}-p${REDACTED}`));
  }
  return out;
}

/** A command's argv with password-like values replaced by ***. */
export function redactArgv(argv: readonly string[]): string[] {
  const program = basename(argv[0] ?? '');
  const mysql = MYSQL_FAMILY.test(program);
  const nextIsPassword = PASSWORD_IN_NEXT_ARG.test(program);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (i > 0 && nextIsPassword && (arg === '-p' || arg === '--password') && i + 1 < argv.length) {
      out.push(arg, REDACTED);
      i++;
    } else if (i > 0 && mysql && /^-p./.test(arg)) {
      out.push(`-p${REDACTED}`);
    } else if (i > 0 && mysql && /^--pass=/.test(arg)) {
      out.push(arg.replace(/=.*$/s, `=${REDACTED}`));
    } else {
      out.push(redactText(arg));
    }
  }
  return out;
}
