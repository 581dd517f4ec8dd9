import { describe, expect, it } from 'vitest';
import { AWS_CREDENTIAL_VARIABLES, commandEnv } from '../../../src/process/child-env.js';

describe('the environment of the wrapped command', () => {
  const base = { PATH: '/usr/bin', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't', AWS_REGION: 'eu-west-1' };

  it('has no AWS credential variables by default, and keeps everything else', () => {
    const env = commandEnv(base);
    for (const name of AWS_CREDENTIAL_VARIABLES) expect(env[name]).toBeUndefined();
    expect(env).toMatchObject({ PATH: '/usr/bin', AWS_REGION: 'eu-west-1' });
    expect(base.AWS_SECRET_ACCESS_KEY).toBe('s'); // the caller's object is not changed
  });

  it('keeps them with passAwsEnv (--pass-aws-env)', () => {
    expect(commandEnv(base, { passAwsEnv: true })).toEqual(base);
  });
});
