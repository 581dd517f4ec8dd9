const SECRET_WORD = '(?:[a-z0-9]+-)*(?:password|passwd|secret|token|api-?key)[\\w-]*';
const SECRET_OPTION = new RegExp(`^(--?${SECRET_WORD})(=)(.*)$`, 'i');
const SECRET_FLAG = new RegExp(`^--?${SECRET_WORD}$`, 'i');
/** `user:password@` in a URL or connection string (postgres://u:p@h/db, mysql://…). */
const URL_PASSWORD = /(\/\/[^/:@\s]+:)([^@\s]+)(@)/g;
/** `password=…` inside a libpq connection string ("host=h password=p"). */
const CONNINFO_PASSWORD = /(\bpassword\s*=\s*)('[^']*'|\S+)/gi;
/** MySQL-family tools take the password glued to -p (`-pSECRET`). */
const MYSQL_TOOLS = /(^|\/)(mysql\w*|mariadb\w*|mydumper|myloader)$/;

const REDACTED = '***';

/**
 * The command line as the manifest records it: passwords given as arguments replaced by `***`
 * (`--password=x`, `--password x`, `-pSECRET` for MySQL tools, `user:pass@` in URLs,
 * `password=` in connection strings). Anything else is kept, so the record says what ran.
 */
export function redactCommand(argv: readonly string[]): string[] {
  const out: string[] = [];
  const mysql = argv.some((a) => MYSQL_TOOLS.test(a));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const opt = SECRET_OPTION.exec(arg);
    if (opt) {
      out.push(`${opt[1]}=${REDACTED}`);
      continue;
    }
    if (SECRET_FLAG.test(arg) && i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
      out.push(arg, REDACTED);
      i++;
      continue;
    }
    if (mysql && /^-p.+/.test(arg)) {
      out.push(`-p${REDACTED}`);
      continue;
    }
    out.push(redactScript(arg));
  }
  return out;
}

/** A shell script given as one argument (`bash -c "mysqldump -pX db | gzip"`): the same rules inside it. */
function redactScript(arg: string): string {
  let s = arg.replace(URL_PASSWORD, `$1${REDACTED}$3`).replace(CONNINFO_PASSWORD, `$1${REDACTED}`);
  if (!/\s/.test(s)) return s;
  s = s.replace(new RegExp(`(--?${SECRET_WORD})(=|\\s+)(?!-)(\\S+)`, 'gi'), `$1$2${REDACTED}`);
  if (/\b(mysql\w*|mariadb\w*|mydumper|myloader)\b/.test(s)) s = s.replace(/(^|\s)-p(?!\s)\S+/g, `$1-p${REDACTED}`);
  return s;
}
