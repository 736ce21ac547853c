//! SASL mechanisms: PLAIN and SCRAM-SHA-256/512 (RFC 5802, RFC 7677).
//!
//! SCRAM is a three-step exchange; each step is its own type and consumes the previous one,
//! so a message can only be produced in the right order:
//! [`ScramStart`] → (client-first) → [`ScramSent`] → (client-final) → [`ScramProven`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Most PBKDF2 iterations a server may ask for; more is refused as a denial of service.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The PLAIN token: `authzid NUL authcid NUL password`, with an empty authzid.
pub(crate) fn plain_token(username: &str, password: &str) -> Vec<u8> {
    let mut t = Vec::with_capacity(username.len() + password.len() + 2);
    t.push(0);
    t.extend_from_slice(username.as_bytes());
    t.push(0);
    t.extend_from_slice(password.as_bytes());
    t
}

/// The hash function of a SCRAM variant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length: new_from_slice cannot fail.
        match self {
            ScramHash::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// Escapes a user name for SCRAM (`=` → `=3D`, `,` → `=2C`).
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// SCRAM before anything was sent.
pub(crate) struct ScramStart {
    hash: ScramHash,
    password: String,
    client_first_bare: String,
    nonce: String,
}

/// SCRAM after client-first: waiting for server-first.
pub(crate) struct ScramSent {
    start: ScramStart,
}

/// SCRAM after client-final: waiting for the server's signature.
pub(crate) struct ScramProven {
    expected_server_signature: Vec<u8>,
}

impl ScramStart {
    /// A new exchange with a fresh random nonce.
    pub(crate) fn new(hash: ScramHash, user: &str, password: &str) -> Self {
        use rand::Rng;
        let nonce: String = rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        Self::with_nonce(hash, user, password, nonce)
    }

    fn with_nonce(hash: ScramHash, user: &str, password: &str, nonce: String) -> Self {
        ScramStart {
            hash,
            password: password.to_string(),
            client_first_bare: format!("n={},r={nonce}", saslname(user)),
            nonce,
        }
    }

    /// The client-first message.
    pub(crate) fn client_first(self) -> (ScramSent, Vec<u8>) {
        let msg = format!("n,,{}", self.client_first_bare).into_bytes();
        (ScramSent { start: self }, msg)
    }
}

impl ScramSent {
    /// Reads server-first and answers with client-final (carrying the proof).
    pub(crate) fn client_final(
        self,
        server_first: &[u8],
    ) -> Result<(ScramProven, Vec<u8>), String> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| "server-first is not UTF-8".to_string())?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            if let Some(v) = part.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = part.strip_prefix("s=") {
                salt = Some(
                    B64.decode(v)
                        .map_err(|_| "server salt is not base64".to_string())?,
                );
            } else if let Some(v) = part.strip_prefix("i=") {
                iterations = Some(
                    v.parse::<u32>()
                        .map_err(|_| "bad iteration count".to_string())?,
                );
            } else if let Some(v) = part.strip_prefix("e=") {
                return Err(format!("server error: {v}"));
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(format!("incomplete server-first message '{server_first}'"));
        };
        if !nonce.starts_with(&self.start.nonce) || nonce.len() == self.start.nonce.len() {
            return Err("server nonce does not extend the client nonce".into());
        }
        if iterations == 0 || iterations > MAX_ITERATIONS {
            return Err(format!("refusing {iterations} PBKDF2 iterations"));
        }
        let h = self.start.hash;
        let salted = h.salted_password(self.start.password.as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!(
            "{},{server_first},{without_proof}",
            self.start.client_first_bare
        );
        let signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let expected_server_signature = h.hmac(&server_key, auth_message.as_bytes());
        let msg = format!("{without_proof},p={}", B64.encode(proof)).into_bytes();
        Ok((
            ScramProven {
                expected_server_signature,
            },
            msg,
        ))
    }
}

impl ScramProven {
    /// Checks the server-final message: the server must prove it knows the password too.
    pub(crate) fn verify(self, server_final: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(server_final).map_err(|_| "server-final is not UTF-8")?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(format!("server error: {e}"));
        }
        let v = text
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .ok_or_else(|| format!("server-final without signature: '{text}'"))?;
        let got = B64
            .decode(v)
            .map_err(|_| "server signature is not base64")?;
        if got != self.expected_server_signature {
            return Err(
                "server signature does not match: the server does not know the password".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3 example.
    #[test]
    fn rfc7677_sha256_vector() {
        let start = ScramStart::with_nonce(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        let (sent, first) = start.client_first();
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (proven, fin) = sent.client_final(server_first).unwrap();
        assert_eq!(
            std::str::from_utf8(&fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        proven
            .verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn wrong_server_signature_is_refused() {
        let start = ScramStart::with_nonce(ScramHash::Sha512, "u", "p", "abc".into());
        let (sent, _) = start.client_first();
        let (proven, _) = sent.client_final(b"r=abcdef,s=c2FsdA==,i=10").unwrap();
        assert!(proven.verify(b"v=AAAA").is_err());
    }

    #[test]
    fn hostile_server_first_is_refused() {
        for bad in [
            &b"r=zzz,s=c2FsdA==,i=10"[..],      // nonce not ours
            b"r=abcdef,s=c2FsdA==,i=999999999", // absurd iterations
            b"r=abcdef,i=10",                   // no salt
            b"e=invalid-proof",
        ] {
            let (sent, _) =
                ScramStart::with_nonce(ScramHash::Sha256, "u", "p", "abc".into()).client_first();
            assert!(sent.client_final(bad).is_err());
        }
    }

    #[test]
    fn names_are_escaped_and_plain_token_is_nul_separated() {
        assert_eq!(saslname("a=b,c"), "a=3Db=2Cc");
        assert_eq!(plain_token("u", "p"), b"\0u\0p");
    }
}
