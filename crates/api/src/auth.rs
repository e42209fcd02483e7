//! Bearer-token authentication: who is calling, and may they write.

use std::sync::{Arc, PoisonError, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vigil_config::{ApiRole, ApiSettings, ApiToken};

/// The configured API tokens, ready to check requests against.
///
/// Secrets are kept only as SHA-256 digests, and a presented token is
/// compared with every digest in constant time (the `subtle` crate), so
/// neither the position of the first differing byte nor the secret's length
/// shows in the response time. `Debug` prints names and roles only.
///
/// Clones share one token set: [`Auth::replace`] (a configuration reload)
/// changes what every clone accepts from the next request on, so a leaked
/// token is revoked without a restart.
#[derive(Clone, Default)]
pub struct Auth {
    tokens: Arc<RwLock<Arc<Vec<Entry>>>>,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    caller: Caller,
}

/// The holder of a valid token: the actor recorded in incident timelines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    /// What it may do.
    pub role: ApiRole,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.current().iter().map(|e| &e.caller))
            .finish()
    }
}

fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn entries(tokens: &[ApiToken]) -> Vec<Entry> {
    tokens
        .iter()
        .map(|t| Entry {
            digest: digest(t.secret.expose().as_bytes()),
            caller: Caller {
                name: t.name.clone(),
                role: t.role,
            },
        })
        .collect()
}

impl Auth {
    /// From validated tokens (`Settings::api.tokens`).
    pub fn new(tokens: &[ApiToken]) -> Auth {
        Auth {
            tokens: Arc::new(RwLock::new(Arc::new(entries(tokens)))),
        }
    }

    /// From the validated `[api]` section.
    pub fn from_settings(api: &ApiSettings) -> Auth {
        Auth::new(&api.tokens)
    }

    /// Replaces the tokens of this `Auth` and of every clone of it (a
    /// reloaded `[api]` section): a removed or changed secret is refused
    /// from the next request on.
    pub fn replace(&self, api: &ApiSettings) {
        let new = Arc::new(entries(&api.tokens));
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = new;
    }

    fn current(&self) -> Arc<Vec<Entry>> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// False when no token is configured: the API is off.
    pub fn is_enabled(&self) -> bool {
        !self.current().is_empty()
    }

    /// The caller a presented secret belongs to, if any. Every configured
    /// digest is compared, whatever matched, in constant time.
    pub fn check(&self, presented: &str) -> Option<Caller> {
        let d = digest(presented.as_bytes());
        let mut found = None;
        let tokens = self.current();
        for e in tokens.iter() {
            if bool::from(e.digest.ct_eq(&d)) {
                // Validation makes secrets unique: at most one matches.
                found = Some(&e.caller);
            }
        }
        found.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_config::Sensitive;

    #[test]
    fn checks_tokens_and_hides_secrets() {
        let auth = Auth::new(&[
            ApiToken {
                name: "alice".into(),
                role: ApiRole::Responder,
                secret: Sensitive("alice-secret-0123456789".into()),
            },
            ApiToken {
                name: "bob".into(),
                role: ApiRole::Viewer,
                secret: Sensitive("bob-secret-0123456789".into()),
            },
        ]);
        assert!(auth.is_enabled());
        assert_eq!(
            auth.check("bob-secret-0123456789").unwrap().role,
            ApiRole::Viewer
        );
        assert_eq!(auth.check("alice-secret-0123456789").unwrap().name, "alice");
        assert_eq!(auth.check("alice-secret-012345678"), None);
        assert_eq!(auth.check(""), None);
        let debug = format!("{auth:?}");
        assert!(
            debug.contains("alice") && !debug.contains("secret"),
            "{debug}"
        );
        assert!(!Auth::default().is_enabled());
    }

    #[test]
    fn replace_revokes_old_secrets_in_every_clone() {
        let token = |secret: &str| ApiToken {
            name: "alice".into(),
            role: ApiRole::Responder,
            secret: Sensitive(secret.into()),
        };
        let settings = |tokens: Vec<ApiToken>| ApiSettings {
            tokens,
            ..ApiSettings::default()
        };
        let auth = Auth::new(&[token("leaked-secret-0123456789")]);
        let router_copy = auth.clone();
        auth.replace(&settings(vec![token("rotated-secret-0123456789")]));
        for a in [&auth, &router_copy] {
            assert_eq!(a.check("leaked-secret-0123456789"), None);
            assert_eq!(a.check("rotated-secret-0123456789").unwrap().name, "alice");
        }
        auth.replace(&settings(vec![]));
        assert!(!router_copy.is_enabled());
    }
}
