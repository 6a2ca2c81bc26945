import crypto from 'node:crypto';

/**
 * s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 20)
 * only offers through the legacy provider: every paginated listing then fails with HTTP 500.
 * Two-key triple DES (`des-ede-cbc`) with the key doubled (K1 = K2) computes exactly single DES in CBC
 * mode and is still in the default provider, so we map one to the other. Installed once per process,
 * before s3rver handles a request; harmless for everything else (nothing else asks for `des`).
 */
let installed = false;

export function installS3rverDesShim(): void {
  if (installed) return;
  installed = true;
  const target = crypto as unknown as {
    createCipheriv: typeof crypto.createCipheriv;
    createDecipheriv: typeof crypto.createDecipheriv;
  };
  const originalCipher = crypto.createCipheriv;
  const originalDecipher = crypto.createDecipheriv;
  const doubled = (key: crypto.CipherKey): crypto.CipherKey =>
    Buffer.isBuffer(key) && key.length === 8 ? Buffer.concat([key, key]) : key;
  target.createCipheriv = ((
    algorithm: string,
    key: crypto.CipherKey,
    iv: crypto.BinaryLike | null,
    options?: never,
  ) =>
    algorithm === 'des'
      ? originalCipher('des-ede-cbc', doubled(key), iv, options)
      : originalCipher(algorithm, key, iv, options)) as typeof crypto.createCipheriv;
  target.createDecipheriv = ((
    algorithm: string,
    key: crypto.CipherKey,
    iv: crypto.BinaryLike | null,
    options?: never,
  ) =>
    algorithm === 'des'
      ? originalDecipher('des-ede-cbc', doubled(key), iv, options)
      : originalDecipher(algorithm, key, iv, options)) as typeof crypto.createDecipheriv;
}
