/**
 * An ed25519 key pair ssh2 can read back. ssh2's own generator strips every leading zero byte of
 * the public key, so about 1 pair in 256 has a public key shorter than 32 bytes and `parseKey`
 * rejects it ("Malformed OpenSSH private key": mscdex/ssh2#1390, #1513, open). A test or simulator
 * that drew such a pair failed at random; drawing again is the whole remedy.
 */
import ssh2 from 'ssh2';

export function ed25519KeyPair(): { private: string; public: string } {
  for (let i = 0; i < 32; i++) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519');
    if (
      !(ssh2.utils.parseKey(keys.private) instanceof Error) &&
      !(ssh2.utils.parseKey(keys.public) instanceof Error)
    )
      return keys;
  }
  throw new Error('ssh2 generated 32 unreadable ed25519 key pairs in a row');
}
