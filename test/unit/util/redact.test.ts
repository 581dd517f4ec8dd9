import { describe, expect, it } from 'vitest';
import { redactArgv, redactText } from '../../../src/util/redact.js';

describe('password redaction for the manifest and log lines', () => {
  it('hides -pSECRET of the MySQL family and keeps the rest of the command', () => {
    expect(redactArgv(['mysqldump', '-uroot', '-pS3cret', '--single-transaction', 'shop'])).toEqual([
      'mysqldump', '-uroot', '-p***', '--single-transaction', 'shop',
    ]);
    expect(redactArgv(['/usr/bin/mariadb-dump', '-pS3cret'])).toEqual(['/usr/bin/mariadb-dump', '-p***']);
    // -p of other programs is not a password (mkdir -p, tar -p).
    expect(redactArgv(['tar', '-pcf', 'x.tar', '.'])).toEqual(['tar', '-pcf', 'x.tar', '.']);
  });

  it('hides mydumper\'s and myloader\'s -p SECRET and --password SECRET', () => {
    expect(redactArgv(['mydumper', '-u', 'root', '-p', 'S3cret', '-o', '/tmp/d'])).toEqual(['mydumper', '-u', 'root', '-p', '***', '-o', '/tmp/d']);
    expect(redactArgv(['myloader', '--password', 'S3cret'])).toEqual(['myloader', '--password', '***']);
  });

  it('hides --password=, PGPASSWORD=, MYSQL_PWD=, libpq password= and URLs with user:password@', () => {
    expect(redactArgv(['pg_dump', '--password=S3cret', 'db'])).toEqual(['pg_dump', '--password=***', 'db']);
    expect(redactArgv(['env', 'PGPASSWORD=S3cret', 'pg_dump', 'db'])).toEqual(['env', 'PGPASSWORD=***', 'pg_dump', 'db']);
    expect(redactArgv(['env', 'MYSQL_PWD=S3cret', 'mysqldump'])).toEqual(['env', 'MYSQL_PWD=***', 'mysqldump']);
    expect(redactArgv(['pg_dump', 'host=db user=u password=S3cret dbname=shop'])).toEqual(['pg_dump', 'host=db user=u password=*** dbname=shop']);
    expect(redactArgv(['pg_dump', '-d', 'postgresql://u:S3cret@db:5432/shop'])).toEqual(['pg_dump', '-d', 'postgresql://u:***@db:5432/shop']);
  });

  it('hides passwords inside a shell script (bash -c)', () => {
    const script = "set -o pipefail; PGPASSWORD='S3cret' pg_dump db | gzip; mysqldump -uroot -pS3cret shop | gzip; mkdir -p /x";
    const out = redactText(script);
    expect(out).not.toContain('S3cret');
    expect(out).toContain("PGPASSWORD=*** pg_dump db");
    expect(out).toContain('mysqldump -uroot -p*** shop');
    expect(out).toContain('mkdir -p /x');
  });

  it('leaves a command without secrets as it is', () => {
    const argv = ['tar', '-czf', '/tmp/out/etc.tgz', '/etc'];
    expect(redactArgv(argv)).toEqual(argv);
    expect(redactText('stored s3://b/k: 3 MiB')).toBe('stored s3://b/k: 3 MiB');
  });
});
