//! IamTokenService.

use std::sync::atomic::Ordering;

use tonic::{Request, Response, Status};

use super::Svc;
use crate::emulator::auth::verify_jwt;
use crate::emulator::seed::TOKEN_CREATOR_ROLE;
use crate::emulator::state::SaRight;
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::iam::v1::create_iam_token_request::Identity;
use crate::proto::yandex::cloud::iam::v1::iam_token_service_server::IamTokenService;
use crate::proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateIamTokenRequest, CreateIamTokenResponse,
    RevokeIamTokenRequest, RevokeIamTokenResponse,
};

impl Svc {
    fn issue(&self, subject_id: &str) -> CreateIamTokenResponse {
        let (iam_token, expires_at) = self.0.issue_iam_token(subject_id, self.0.iam_token_ttl);
        self.0.iam_exchanges.fetch_add(1, Ordering::Relaxed);
        CreateIamTokenResponse {
            iam_token,
            expires_at: Some(expires_at.into()),
        }
    }
}

#[tonic::async_trait]
impl IamTokenService for Svc {
    async fn create(
        &self,
        req: Request<CreateIamTokenRequest>,
    ) -> Result<Response<CreateIamTokenResponse>, Status> {
        let r = self.valid(&req)?;
        let subject_id = match &r.identity {
            Some(Identity::YandexPassportOauthToken(token)) => self
                .0
                .lock()
                .oauth_tokens
                .get(token)
                .cloned()
                .ok_or_else(|| Status::unauthenticated("the OAuth token is unknown or invalid"))?,
            Some(Identity::Jwt(jwt)) => {
                let st = self.0.lock();
                verify_jwt(jwt, self.0.clock.now(), &self.0.jwt_audiences, |kid| {
                    st.sa_keys.get(kid).cloned()
                })?
            }
            None => return Err(Status::invalid_argument("identity is required")),
        };
        Ok(Response::new(self.issue(&subject_id)))
    }

    async fn create_for_service_account(
        &self,
        req: Request<CreateIamTokenForServiceAccountRequest>,
    ) -> Result<Response<CreateIamTokenResponse>, Status> {
        let (caller, r) = self.admit(&req)?;
        {
            let st = self.0.lock();
            let sa = &r.service_account_id;
            if !st.service_accounts.contains(sa) {
                return Err(Status::not_found(format!(
                    "service account {} not found",
                    echo(sa)
                )));
            }
            if !st.sa_allowed(&caller, sa, SaRight::CreateToken) {
                return Err(Status::permission_denied(format!(
                    "subject {} may not create tokens for service account {}: it needs \
                     the {TOKEN_CREATOR_ROLE} (or editor, admin) role on that service account",
                    echo(&caller),
                    echo(sa)
                )));
            }
        }
        Ok(Response::new(self.issue(&r.service_account_id)))
    }

    async fn revoke(
        &self,
        req: Request<RevokeIamTokenRequest>,
    ) -> Result<Response<RevokeIamTokenResponse>, Status> {
        let (caller, r) = self.admit(&req)?;
        let mut st = self.0.lock();
        // Only the token's own subject, or an admin of that (service account)
        // subject, may revoke it. To anyone else a token that exists answers
        // exactly like an unknown one: no oracle.
        let may = st.iam_tokens.get(&r.iam_token).is_some_and(|e| {
            e.subject_id == caller || st.sa_allowed(&caller, &e.subject_id, SaRight::Admin)
        });
        let entry = may
            .then(|| st.iam_tokens.remove(&r.iam_token))
            .flatten()
            .ok_or_else(|| Status::not_found("IAM token not found"))?;
        Ok(Response::new(RevokeIamTokenResponse {
            subject_id: entry.subject_id,
        }))
    }
}
