//! Long-running operations: creation, completion, cancel, idempotency.

use std::cmp::Reverse;
use std::time::{Duration, SystemTime};

use prost::Message;
use prost_types::Any;
use rand::Rng;
use tonic::{Code, Status};
use tonic_types::pb::Status as RpcStatus;

use super::seed::CustomerStatus;
use super::state::{CustomerRecord, State};
use crate::emulator::text::echo;
use crate::proto::yandex::cloud::access::{AccessBindingAction, AccessBindingDelta};
use crate::proto::yandex::cloud::billing::v1::{
    BillableObject, BillableObjectBinding, BillingAccount,
};
use crate::proto::yandex::cloud::operation::{Operation, operation};

/// The change an operation makes when it completes.
pub(crate) enum Effect {
    CreateCustomer(Box<CustomerRecord>),
    SetCustomerStatus {
        customer_id: String,
        status: CustomerStatus,
    },
    Bind {
        account_id: String,
        object: BillableObject,
    },
    UpdateAccess {
        account_id: String,
        deltas: Vec<AccessBindingDelta>,
    },
    CreateBudget(Box<crate::proto::yandex::cloud::billing::v1::Budget>),
}

/// Everything a mutating call needs to start an operation.
pub(crate) struct Mutation {
    /// The operation's description.
    pub description: String,
    /// The encoded metadata message.
    pub metadata: Vec<u8>,
    /// What completion does.
    pub effect: Effect,
}

/// An operation to start: the input of [`State::start_operation`].
pub(crate) struct NewOperation<'a> {
    /// The method (`package.Service/Method`): which `fail_next` queue applies
    /// and the scope of the idempotency key.
    pub method: &'a str,
    /// Metadata and response type names, from the method table.
    pub types: (String, String),
    /// The calling subject.
    pub created_by: &'a str,
    /// The caller's idempotency key and request bytes, when it sent a key.
    pub idempotency: Option<(&'a str, Vec<u8>)>,
    /// Description, metadata and effect.
    pub mutation: Mutation,
    /// `OperationService.Get` calls to answer NOT_FOUND first (fault injection).
    pub not_found_gets: u32,
    /// The error the operation ends with, without effect (fault injection).
    pub fail: Option<(Code, String)>,
}

pub(crate) struct OpRecord {
    pub op: Operation,
    pub seq: u64,
    pub gets: u32,
    pub not_found_left: u32,
    pub effect: Option<Effect>,
    pub fail: Option<(Code, String)>,
    pub response_type: String,
    /// This operation's own completion delay (see
    /// [`EmulatorBuilder::random_operation_delay`](super::EmulatorBuilder::random_operation_delay)).
    pub delay: Option<Duration>,
}

/// Why [`State::finish_now`] did nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FinishError {
    NotFound,
    Done,
}

/// How operations complete.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Completion {
    pub delay: Duration,
    pub after_gets: Option<u32>,
}

pub(crate) fn pack(type_name: &str, value: Vec<u8>) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value,
    }
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20 - prefix.len()]
    )
}

/// The answer for an operation the caller may not see, whether it does not
/// exist or belongs to another subject: one code and one message shape, so
/// that the answer reveals nothing about other subjects' operations.
pub(crate) fn operation_not_found(id: &str) -> Status {
    Status::not_found(format!("operation {} not found", echo(id)))
}

fn rpc_status(code: Code, message: &str) -> RpcStatus {
    RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: Vec::new(),
    }
}

impl State {
    /// Completes every pending operation whose time has come, in creation order
    /// (in order of due time with per-operation random delays).
    pub fn settle(&mut self, completion: Completion) {
        if completion.after_gets.is_some() {
            self.settle_by_gets(completion);
            return;
        }
        // Delay-based completion: the queue is ordered by due time, so
        // settling costs O(log n) per completed operation, not O(n) per call.
        // Due times are monotonic real time, not the injected clock
        // (`operation_delay` is a real delay, so operations complete while a
        // test's `ManualClock` stands still), except under the emulator's
        // own manual clock (`EmulatorBuilder::manual_clock`), where they
        // follow it.
        let extra = if self.random_delay.is_some() {
            Duration::ZERO
        } else {
            completion.delay
        };
        let now = self.tick();
        while let Some(Reverse((base, _, _))) = self.due.peek() {
            if *base + extra > now {
                break;
            }
            let Some(Reverse((_, _, id))) = self.due.pop() else {
                break;
            };
            if self.operations.get(&id).is_some_and(|r| !r.op.done) {
                self.complete(&id);
            }
        }
    }

    fn settle_by_gets(&mut self, completion: Completion) {
        let mut due: Vec<(u64, String)> = self
            .operations
            .iter()
            .filter(|(_, r)| !r.op.done)
            .filter(|(_, r)| completion.after_gets.is_some_and(|n| r.gets >= n))
            .map(|(id, r)| (r.seq, id.clone()))
            .collect();
        due.sort();
        for (_, id) in due {
            self.complete(&id);
        }
    }

    /// Finishes a pending operation now: with its effect, or failed with
    /// `fail` (without effect). `Err` names why not (unknown id, already done).
    pub fn finish_now(
        &mut self,
        id: &str,
        fail: Option<(Code, String)>,
    ) -> Result<(), FinishError> {
        let rec = self.operations.get_mut(id).ok_or(FinishError::NotFound)?;
        if rec.op.done {
            return Err(FinishError::Done);
        }
        if fail.is_some() {
            rec.fail = fail;
        }
        self.complete(id);
        Ok(())
    }

    fn complete(&mut self, id: &str) {
        let now = self.now();
        let Some(rec) = self.operations.get_mut(id) else {
            return;
        };
        let effect = rec.effect.take();
        let fail = rec.fail.take();
        let response_type = rec.response_type.clone();
        // With a per-operation delay the operation finished when it was due,
        // even if it is settled lazily later: stamp that time.
        let finished_at = match (rec.delay, rec.op.created_at) {
            (Some(delay), Some(created)) => SystemTime::try_from(created)
                .map(|c| c + delay)
                .unwrap_or(now),
            _ => now,
        };
        let result = match (fail, effect) {
            (Some((code, msg)), _) => Err(rpc_status(code, &msg)),
            (None, Some(effect)) => self.apply(effect).map(|bytes| pack(&response_type, bytes)),
            (None, None) => Err(rpc_status(Code::Internal, "operation has no effect")),
        };
        let rec = self.operations.get_mut(id).expect("operation exists");
        rec.op.done = true;
        rec.op.modified_at = Some(finished_at.into());
        rec.op.result = Some(match result {
            Ok(any) => operation::Result::Response(any),
            Err(status) => operation::Result::Error(status),
        });
    }

    fn apply(&mut self, effect: Effect) -> Result<Vec<u8>, RpcStatus> {
        match effect {
            Effect::CreateCustomer(c) => {
                let currency = self
                    .account(&c.reseller_id)
                    .map_or("RUB".into(), |a| a.proto.currency.clone());
                self.create_account(super::state::Account::new(
                    BillingAccount {
                        id: c.billing_account_id.clone(),
                        name: c.name.clone(),
                        created_at: Some(self.now().into()),
                        country_code: "RU".into(),
                        currency,
                        active: c.status == CustomerStatus::Active,
                        balance: "0.00".into(),
                    },
                    Some(c.reseller_id.clone()),
                ));
                let proto = c.to_proto();
                self.insert_customer(*c);
                Ok(proto.encode_to_vec())
            }
            Effect::SetCustomerStatus {
                customer_id,
                status,
            } => {
                let c = self.customer_mut(&customer_id).ok_or_else(|| {
                    rpc_status(
                        Code::NotFound,
                        &format!("customer {} not found", echo(&customer_id)),
                    )
                })?;
                c.status = status;
                let proto = c.to_proto();
                if let Some(a) = self.account_mut(&proto.billing_account_id) {
                    a.proto.active = status == CustomerStatus::Active;
                }
                Ok(proto.encode_to_vec())
            }
            Effect::Bind { account_id, object } => {
                // A billable object is paid for by one account at a time:
                // binding it moves it from whichever account had it.
                let binding = BillableObjectBinding {
                    effective_time: Some(self.now().into()),
                    billable_object: Some(object),
                };
                if !self.bind_billable(&account_id, binding.clone()) {
                    return Err(rpc_status(
                        Code::NotFound,
                        &format!("billing account {} not found", echo(&account_id)),
                    ));
                }
                Ok(binding.encode_to_vec())
            }
            Effect::UpdateAccess { account_id, deltas } => {
                let not_found = || {
                    rpc_status(
                        Code::NotFound,
                        &format!("billing account {} not found", echo(&account_id)),
                    )
                };
                if self.account(&account_id).is_none() {
                    return Err(not_found());
                }
                for d in deltas {
                    let Some(binding) = d.access_binding else {
                        continue;
                    };
                    if d.action == AccessBindingAction::Add as i32 {
                        self.add_access_binding(&account_id, binding);
                    } else if d.action == AccessBindingAction::Remove as i32 {
                        self.remove_access_binding(&account_id, &binding);
                    }
                }
                Ok(Vec::new())
            }
            Effect::CreateBudget(budget) => {
                if self.account(&budget.billing_account_id).is_none() {
                    return Err(rpc_status(
                        Code::NotFound,
                        &format!(
                            "billing account {} not found",
                            echo(&budget.billing_account_id)
                        ),
                    ));
                }
                let shown = super::services::budget::view(&budget, self.now());
                self.budgets.insert(*budget);
                Ok(shown.encode_to_vec())
            }
        }
    }

    /// The operation an earlier call of the same subject to the same method
    /// with the same idempotency key created, or an error when that subject
    /// used the key on this method for a different request. Keys are scoped
    /// to `(subject, method)`: another subject's use of a key is never seen,
    /// returned or named.
    pub fn idempotent_replay(
        &self,
        subject: &str,
        key: Option<&str>,
        method: &str,
        request: &[u8],
    ) -> Result<Option<Operation>, Status> {
        let Some(key) = key else { return Ok(None) };
        let scoped = (subject.to_string(), method.to_string(), key.to_string());
        match self.idempotency.get(&scoped) {
            None => Ok(None),
            Some((bytes, op_id)) if bytes == request => {
                Ok(self.operations.get(op_id).map(|r| r.op.clone()))
            }
            Some(_) => Err(Status::invalid_argument(
                "idempotency-key: this idempotency key was already used for a different \
                 request to this method; use a new key for a new request",
            )),
        }
    }

    /// Creates a pending operation.
    pub fn start_operation(&mut self, new: NewOperation<'_>) -> Operation {
        let NewOperation {
            method,
            types,
            created_by,
            idempotency,
            mutation:
                Mutation {
                    description,
                    metadata,
                    effect,
                },
            not_found_gets,
            fail,
        } = new;
        let now = self.now();
        let id = new_id("emuop");
        let op = Operation {
            id: id.clone(),
            description,
            created_at: Some(now.into()),
            created_by: created_by.to_string(),
            modified_at: Some(now.into()),
            done: false,
            metadata: Some(pack(&types.0, metadata)),
            result: None,
        };
        self.op_seq += 1;
        let created = self.tick();
        let delay = self
            .random_delay
            .as_mut()
            .map(|(max, rng)| rng.random_range(Duration::ZERO..=*max));
        self.due.push(Reverse((
            created + delay.unwrap_or_default(),
            self.op_seq,
            id.clone(),
        )));
        self.operations.insert(
            id.clone(),
            OpRecord {
                op: op.clone(),
                seq: self.op_seq,
                gets: 0,
                not_found_left: not_found_gets,
                effect: Some(effect),
                fail,
                response_type: types.1,
                delay,
            },
        );
        if let Some((key, bytes)) = idempotency {
            self.idempotency.insert(
                (created_by.to_string(), method.to_string(), key.to_string()),
                (bytes, id),
            );
        }
        op
    }

    /// OperationService.Get.
    pub fn get_operation(&mut self, id: &str, completion: Completion) -> Result<Operation, Status> {
        let not_found = || operation_not_found(id);
        let rec = self.operations.get_mut(id).ok_or_else(not_found)?;
        if rec.not_found_left > 0 {
            rec.not_found_left -= 1;
            return Err(not_found());
        }
        rec.gets += 1;
        self.settle(completion);
        Ok(self.operations[id].op.clone())
    }

    /// OperationService.Cancel.
    pub fn cancel_operation(&mut self, id: &str) -> Result<Operation, Status> {
        let now = self.now();
        let rec = self
            .operations
            .get_mut(id)
            .ok_or_else(|| operation_not_found(id))?;
        if rec.op.done {
            return Err(Status::failed_precondition(format!(
                "operation {} is already done and cannot be cancelled",
                echo(id)
            )));
        }
        rec.effect = None;
        rec.op.done = true;
        rec.op.modified_at = Some(now.into());
        rec.op.result = Some(operation::Result::Error(rpc_status(
            Code::Cancelled,
            "operation was cancelled",
        )));
        Ok(rec.op.clone())
    }
}
