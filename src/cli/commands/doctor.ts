import { Command } from 'commander';
import { PreflightError } from '../../errors.js';
import type { DoctorReport } from '../../ops/doctor.js';
import { addConnectionOptions, loggerFor, sessionOptions, type ConnectionFlags } from '../common-options.js';

interface DoctorFlags extends ConnectionFlags {
  json?: boolean;
}

export function doctorCommand(): Command {
  const cmd = new Command('doctor')
    .summary('probe an S3 endpoint and bucket for what diskless needs, and say which flags to use')
    .description(
      'Probes the endpoint: where the credentials come from, region and addressing, whether it speaks S3. With ' +
        's3://BUCKET[/PREFIX] also: write access, whether a wrong Content-MD5 is refused, multipart uploads with parts ' +
        'of different sizes (Cloudflare R2 refuses them), composite multipart ETags, S3 additional checksums, the part ' +
        'limit, and a lifecycle rule for incomplete uploads. It writes a few small probe objects under a random name ' +
        'and deletes them. Exits 3 with the fix when something will not work.',
    )
    .argument('[url]', 's3://BUCKET or s3://BUCKET/PREFIX to probe writes and multipart behaviour there')
    .option('--json', 'print the report as one JSON object on stdout')
    .addHelpText('after', '\nExamples:\n  diskless doctor --endpoint-url http://127.0.0.1:19001\n  diskless doctor s3://backups/db/ --json\n');
  addConnectionOptions(cmd);
  return cmd.action(async (url: string | undefined, flags: DoctorFlags) => {
    const { doctor } = await import('../../ops/doctor.js'); // loaded on use (program.ts)
    const report = await doctor({ ...sessionOptions(flags, loggerFor(flags)), ...(url ? { url } : {}) });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : humanReport(report));
    const failed = report.checks.filter((c) => c.status === 'fail');
    if (failed.length > 0) throw new PreflightError(`${failed.map((c) => c.name).join(', ')}: ${failed[0]!.detail}${failed[0]!.fix ? `; ${failed[0]!.fix}` : ''}`);
  });
}

const MARK = { ok: '✔', info: '·', warn: '!', fail: '✘' } as const;

function humanReport(r: DoctorReport): string {
  const lines = [`diskless doctor: ${r.endpoint}${r.bucket ? `, bucket ${r.bucket}` : ''}`];
  for (const c of r.checks) {
    lines.push(`  ${MARK[c.status]} ${c.name}: ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`      fix: ${c.fix}`);
  }
  lines.push(r.flags.length > 0 ? `flags to use with this store: ${r.flags.join(' ')}` : 'flags to use with this store: none beyond --endpoint-url');
  lines.push(r.ok ? 'result: diskless can work with this store' : 'result: diskless will NOT work as set up (see ✘ above)');
  return `${lines.join('\n')}\n`;
}
