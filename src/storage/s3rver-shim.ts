import crypto from 'node:crypto';

/**
 * s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 20)
 * only offers through the legacy provider: every paginated listing then fails with HTTP 500.
 * Two-key triple DES (`des-ede-cbc`) with the key doubled (K1 = K2) computes exactly single DES in CBC
 * mode and is still in the default provider, so we map one to the other. Installed once per process,
 * before s3rver handles a request; harmless for everything else (nothing else asks for `des`).
 */
let installed = false;

type CipherFactory = (
  algorithm: string,
  key: crypto.CipherKey,
  iv: crypto.BinaryLike | null,
  options?: never,
) => crypto.Cipher | crypto.Decipher;

function mapDes(original: CipherFactory): CipherFactory {
  return (algorithm, key, iv, options) => {
    if (algorithm !== 'des') return original(algorithm, key, iv, options);
    const doubled = Buffer.isBuffer(key) && key.length === 8 ? Buffer.concat([key, key]) : key;
    return original('des-ede-cbc', doubled, iv, options);
  };
}

export function installS3rverDesShim(): void {
  if (installed) return;
  installed = true;
  const target = crypto as unknown as { createCipheriv: CipherFactory; createDecipheriv: CipherFactory };
  target.createCipheriv = mapDes(crypto.createCipheriv as CipherFactory);
  target.createDecipheriv = mapDes(crypto.createDecipheriv as CipherFactory);
}
