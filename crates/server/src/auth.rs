//! Who may connect: a password checked by SCRAM-SHA-256 (the password never crosses the
//! wire), TLS when it is required, loopback clients only when there is no password, and the
//! connection limit. Refusals are `FATAL` responses that name the reason.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::cancel::{Cancels, Registered, Signal};
use crate::sqlstate::{code, fatal};

/// SCRAM's iteration count (Postgres's default).
const ITERATIONS: usize = 4096;

/// The server's password, salted and hashed once at startup: what SCRAM compares with.
#[derive(Debug)]
pub(crate) struct Secret {
    salt: Vec<u8>,
    salted: Vec<u8>,
}

impl Secret {
    pub(crate) fn new(password: &str) -> Arc<Self> {
        let salt: [u8; 16] = rand_salt();
        Arc::new(Self {
            salt: salt.to_vec(),
            salted: gen_salted_password(password, &salt, ITERATIONS),
        })
    }
}

/// A salt that differs per server start.
fn rand_salt() -> [u8; 16] {
    rand::random()
}

#[async_trait]
impl AuthSource for Secret {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// No password: the startup completes without one (only loopback clients get here).
#[derive(Debug)]
pub(crate) struct Trust;

impl NoopStartupHandler for Trust {}

/// The startup of one connection: the checks, then the password exchange, then its entry
/// in the cancel registry.
pub(crate) struct Gate {
    how: How,
    /// Why the connection is refused before anything else (the connection limit).
    refuse: Option<(&'static str, String)>,
    require_tls: bool,
    loopback_only: bool,
    cancels: Arc<Cancels>,
    signal: Arc<Signal>,
    registered: Mutex<Option<Registered>>,
}

enum How {
    Trust(Trust),
    /// SCRAM-SHA-256 for plain connections; with TLS also SCRAM-SHA-256-PLUS, which binds
    /// the exchange to the server's certificate (offering it without TLS makes libpq refuse).
    Scram {
        plain: Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>,
        tls: Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>,
    },
}

/// What a connection's startup needs to know.
pub(crate) struct GateSettings {
    pub(crate) secret: Option<Arc<Secret>>,
    pub(crate) cert_pem: Option<Vec<u8>>,
    pub(crate) require_tls: bool,
    pub(crate) refuse: Option<(&'static str, String)>,
    pub(crate) cancels: Arc<Cancels>,
    pub(crate) signal: Arc<Signal>,
}

impl Gate {
    pub(crate) fn new(settings: GateSettings) -> PgWireResult<Self> {
        let loopback_only = settings.secret.is_none();
        let how = match settings.secret {
            None => How::Trust(Trust),
            Some(secret) => {
                let handler = |cert: Option<&[u8]>| -> PgWireResult<_> {
                    let mut scram = ScramAuth::new(Arc::clone(&secret) as Arc<dyn AuthSource>);
                    scram.set_iterations(ITERATIONS);
                    if let Some(pem) = cert {
                        scram.configure_certificate(pem)?;
                    }
                    Ok(Box::new(
                        SASLAuthStartupHandler::new(Arc::new(
                            DefaultServerParameterProvider::default(),
                        ))
                        .with_scram(scram),
                    ))
                };
                How::Scram {
                    plain: handler(None)?,
                    tls: handler(settings.cert_pem.as_deref())?,
                }
            }
        };
        Ok(Self {
            how,
            refuse: settings.refuse,
            require_tls: settings.require_tls,
            loopback_only,
            cancels: settings.cancels,
            signal: settings.signal,
            registered: Mutex::new(None),
        })
    }
}

#[async_trait]
impl StartupHandler for Gate {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(_) = &message {
            if let Some((sqlstate, message)) = &self.refuse {
                return Err(fatal(sqlstate, message.clone()));
            }
            if self.require_tls && !client.is_secure() {
                return Err(fatal(
                    code::INVALID_AUTHORIZATION,
                    "this server requires TLS: connect with sslmode=require",
                ));
            }
            if self.loopback_only && !client.socket_addr().ip().is_loopback() {
                return Err(fatal(
                    code::INVALID_AUTHORIZATION,
                    format!(
                        "{} is not a loopback address, and the server has no password: only loopback clients may connect",
                        client.socket_addr().ip()
                    ),
                ));
            }
        }
        match &self.how {
            How::Trust(trust) => trust.on_startup(client, message).await?,
            How::Scram { plain, tls } => {
                let scram = if client.is_secure() { tls } else { plain };
                scram.on_startup(client, message).await?
            }
        }
        if matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            let mut registered = self.registered.lock().expect("startup lock poisoned");
            if registered.is_none() {
                let (pid, secret) = client.pid_and_secret_key();
                *registered = Some(self.cancels.register(
                    pid,
                    secret.to_bytes().to_vec(),
                    Arc::clone(&self.signal),
                ));
            }
        }
        Ok(())
    }
}
