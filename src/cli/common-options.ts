import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { SessionOptions } from '../ops/session.js';
import type { Logger } from '../util/log.js';
import { cliLogger, type CliLog, type LogFormat } from './cli-log.js';
import { parseSize } from '../util/size.js';

/** Options every command that talks to S3 takes, spelled as in the aws CLI. */
export interface ConnectionFlags {
  endpointUrl?: string;
  region?: string;
  profile?: string;
  forcePathStyle?: boolean;
  requestTimeout: number;
  connectTimeout: number;
  retryFor: number;
  quiet?: boolean;
  verbose?: boolean;
  /** The global --log-format, copied into every command's flags (program.ts). */
  logFormat?: LogFormat;
}

export function addConnectionOptions(cmd: Command): Command {
  const envEndpoint = process.env['AWS_ENDPOINT_URL_S3'] ?? process.env['AWS_ENDPOINT_URL'];
  return cmd
    .addOption(
      new Option('--endpoint-url <url>', 'S3-compatible endpoint (Ceph RGW, MinIO, R2, …); default AWS').default(
        envEndpoint,
        envEndpoint ? '$AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL' : undefined,
      ),
    )
    .option('--region <region>', 'region (default: AWS_REGION, the profile, or us-east-1 with --endpoint-url)')
    .option('--profile <name>', 'profile of the shared AWS config and credentials files')
    .option('--force-path-style', 'path-style URLs (default with --endpoint-url)')
    .option('--no-force-path-style', 'virtual-hosted URLs even with --endpoint-url')
    .option('--request-timeout <seconds>', 'fail a request that makes no progress for this long', seconds('--request-timeout'), 30)
    .option('--connect-timeout <seconds>', 'fail a connection attempt after this long', seconds('--connect-timeout'), 5)
    .option('--retry-for <seconds>', 'retry a failing request for at most this long, then fail', seconds('--retry-for'), 60)
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print what happens');
}

export function sessionOptions(flags: ConnectionFlags, log: Logger): SessionOptions {
  return {
    connection: {
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      ...(flags.region ? { region: flags.region } : {}),
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.forcePathStyle !== undefined ? { forcePathStyle: flags.forcePathStyle } : {}),
      requestTimeoutMs: flags.requestTimeout * 1000,
      connectTimeoutMs: flags.connectTimeout * 1000,
    },
    retry: { retryForMs: flags.retryFor * 1000 },
    log,
  };
}

export function loggerFor(flags: Pick<ConnectionFlags, 'quiet' | 'verbose' | 'logFormat'>): CliLog {
  return cliLogger(flags.quiet ? 'warn' : flags.verbose ? 'debug' : 'info', flags.logFormat ?? 'text');
}

export function seconds(name: string) {
  return (text: string): number => {
    const v = Number(text);
    if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${name} must be a positive number of seconds, got "${text}"`);
    return v;
  };
}

export function wholeNumber(name: string, min: number, max: number) {
  return (text: string): number => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    }
    return v;
  };
}

export function size(name: string) {
  return (text: string): number => parseSize(text, name);
}
