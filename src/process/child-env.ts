/**
 * The credential variables of the AWS SDK: diskless needs them, the dump tool it runs does not,
 * and a tool that logs its environment (or is compromised) should not see them. Removed from the
 * command's environment unless the user passes --pass-aws-env.
 */
export const AWS_CREDENTIAL_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
] as const;

/** The environment of a command diskless runs: `base` without the AWS credentials, unless `passAwsEnv`. */
export function commandEnv(base: NodeJS.ProcessEnv, options: { passAwsEnv?: boolean } = {}): NodeJS.ProcessEnv {
  if (options.passAwsEnv) return { ...base };
  const env = { ...base };
  for (const name of AWS_CREDENTIAL_VARIABLES) delete env[name];
  return env;
}
