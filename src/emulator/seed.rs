//! Initial state of the emulator, from JSON or code.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EmulatorError;
use super::catalogue::CatalogueOverrides;
use crate::proto::yandex::cloud::billing::v1::{
    BalanceBudgetSpec, Budget, CostBudgetSpec, CustomerPerson, ExpenseBudgetSpec, ResetPeriodType,
    ThresholdRule, ThresholdType, budget, cost_budget_spec, expense_budget_spec,
};

/// The documented default OAuth token of the default subject.
pub const DEFAULT_OAUTH_TOKEN: &str = "y0_emulator-oauth-token-default";
/// The documented default (never expiring) IAM token of the default subject.
pub const DEFAULT_IAM_TOKEN: &str = "t1.emulator-iam-token-default";
/// IAM token of a subject that has no access binding anywhere.
pub const NO_RIGHTS_IAM_TOKEN: &str = "t1.emulator-iam-token-no-rights";
/// The default subject (a user account), owner of the reseller account.
pub const DEFAULT_SUBJECT_ID: &str = "ajeemu0subject000001";
/// A subject with no rights at all (see [`NO_RIGHTS_IAM_TOKEN`]).
pub const NO_RIGHTS_SUBJECT_ID: &str = "ajeemu0nobody0000001";
/// The default service account, editor of the reseller account.
pub const DEFAULT_SERVICE_ACCOUNT_ID: &str = "ajeemu0sa00000000001";
/// The default reseller billing account id.
pub const DEFAULT_RESELLER_ID: &str = "dn2emu0reseller00001";

/// Status of a customer of a reseller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomerStatus {
    /// Invited by e-mail, has not accepted yet.
    Invited,
    /// Created (reseller-served) but not activated.
    Inactive,
    /// Active: may use resources.
    Active,
    /// Suspended by the reseller.
    Suspended,
}

/// A billing account in the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SeedBillingAccount {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// ISO country code.
    pub country_code: String,
    /// Currency code.
    pub currency: String,
    /// Whether the account is active.
    pub active: bool,
    /// Balance, decimal string.
    pub balance: String,
    /// Id of the reseller account that serves this one, if any.
    pub reseller_id: Option<String>,
}

impl Default for SeedBillingAccount {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            country_code: "RU".into(),
            currency: "RUB".into(),
            active: true,
            balance: "0.00".into(),
            reseller_id: None,
        }
    }
}

/// A customer in the seed; its billing account is created automatically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedCustomer {
    /// Customer id.
    pub id: String,
    /// Reseller billing account id.
    pub reseller_id: String,
    /// The customer's own billing account id.
    pub billing_account_id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: CustomerStatus,
    /// Invitation e-mail, for invited customers.
    #[serde(default)]
    pub invitation_email: Option<String>,
    /// Person data: the API's `CustomerPerson`, in JSON by its proto3
    /// mapping read through the descriptors (field names in snake_case, as
    /// written, or camelCase; unknown fields ignored).
    #[serde(default, with = "person_json")]
    #[schemars(schema_with = "person_json::schema")]
    pub person: CustomerPerson,
}

/// An access binding in the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedAccessBinding {
    /// Billing account the binding is on.
    pub billing_account_id: String,
    /// Role, e.g. `billing.accounts.owner`.
    pub role_id: String,
    /// Subject id.
    pub subject_id: String,
    /// Subject type (`userAccount`, `serviceAccount`, ...).
    #[serde(default = "default_subject_type")]
    pub subject_type: String,
}

fn default_subject_type() -> String {
    "userAccount".into()
}

/// Role that lets a subject mint IAM tokens for a service account
/// (`IamTokenService.CreateForServiceAccount`). `editor` and `admin` (and
/// `iam.serviceAccounts.admin`) on the service account include it.
pub const TOKEN_CREATOR_ROLE: &str = "iam.serviceAccounts.tokenCreator";

/// An access binding on a service account, in the seed: who may act as it.
///
/// `iam.serviceAccounts.tokenCreator`, `editor` or `admin` let the subject
/// call `CreateForServiceAccount` for it; `admin` (or
/// `iam.serviceAccounts.admin`) also lets the subject revoke the service
/// account's IAM tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedServiceAccountBinding {
    /// The service account the binding is on.
    pub service_account_id: String,
    /// Role, e.g. [`TOKEN_CREATOR_ROLE`].
    pub role_id: String,
    /// Subject id.
    pub subject_id: String,
    /// Subject type (`userAccount`, `serviceAccount`, ...).
    #[serde(default = "default_subject_type")]
    pub subject_type: String,
}

/// A token known to the emulator and the subject it stands for.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema, derive_more::Debug)]
pub struct SeedToken {
    /// The token itself.
    #[debug("{:?}", "<redacted>")]
    pub token: String,
    /// Subject id.
    pub subject_id: String,
    /// For an IAM token: when it expires (RFC 3339, e.g.
    /// `2030-01-01T00:00:00Z`); absent, it never does. Ignored for OAuth tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A billable object (e.g. a cloud) bound to a billing account, in the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedBillableObjectBinding {
    /// The billing account that pays for the object.
    pub billing_account_id: String,
    /// The object's type, e.g. `cloud`.
    #[serde(rename = "type")]
    pub object_type: String,
    /// The object's id.
    pub id: String,
}

/// A registered service-account key (its public half), in the seed: JWTs
/// signed with the private half are accepted by `IamTokenService.Create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedServiceAccountKey {
    /// Key id (the JWT's `kid`).
    pub id: String,
    /// The service account it belongs to.
    pub service_account_id: String,
    /// The public key, PEM.
    pub public_key: String,
}

/// Initial state of the emulator.
///
/// [`Seed::default`] holds one reseller account ([`DEFAULT_RESELLER_ID`]),
/// three customers (active, suspended, invited), the owner subject
/// [`DEFAULT_SUBJECT_ID`] with OAuth token [`DEFAULT_OAUTH_TOKEN`] and IAM
/// token [`DEFAULT_IAM_TOKEN`], the service account
/// [`DEFAULT_SERVICE_ACCOUNT_ID`] (editor), on which the default subject
/// holds [`TOKEN_CREATOR_ROLE`], and the rights-less subject
/// [`NO_RIGHTS_SUBJECT_ID`] with IAM token [`NO_RIGHTS_IAM_TOKEN`].
///
/// In JSON every top-level key is optional and takes its value from
/// [`Seed::default`] when missing (so a seed written before
/// `service_account_access_bindings` existed keeps loading, with the default
/// binding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Seed {
    /// Billing accounts (reseller accounts and others).
    pub billing_accounts: Vec<SeedBillingAccount>,
    /// Customers of reseller accounts.
    pub customers: Vec<SeedCustomer>,
    /// Access bindings.
    pub access_bindings: Vec<SeedAccessBinding>,
    /// OAuth tokens accepted by `IamTokenService.Create`.
    pub oauth_tokens: Vec<SeedToken>,
    /// IAM tokens accepted on every call; they never expire.
    pub iam_tokens: Vec<SeedToken>,
    /// Known service account ids.
    pub service_accounts: Vec<String>,
    /// Access bindings on service accounts: who may create tokens for them
    /// (and revoke their tokens).
    pub service_account_access_bindings: Vec<SeedServiceAccountBinding>,
    /// The subject whose credentials the handle reports and the metadata
    /// server issues tokens for.
    pub default_subject_id: String,
    /// The reseller account the handle reports.
    pub default_reseller_id: String,
    /// Billable objects bound to billing accounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub billable_object_bindings: Vec<SeedBillableObjectBinding>,
    /// Registered service-account keys (public halves).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_account_keys: Vec<SeedServiceAccountKey>,
    /// Consumption records of the usage API: generated per billing account
    /// and explicit.
    pub usage: super::usage::SeedUsage,
    /// Services, SKUs and contract prices added to (or replacing those of)
    /// the default catalogue ([`Catalogue::default_seeded`](super::catalogue::Catalogue::default_seeded)).
    #[serde(skip_serializing_if = "CatalogueOverrides::is_empty")]
    #[schemars(with = "serde_json::Value")]
    pub catalogue: CatalogueOverrides,
    /// Budgets: the API's `Budget` in proto3 JSON (`cost_budget` or
    /// `costBudget`, …), each on a billing account of the seed; `status`
    /// is ignored (a budget is active until its end date).
    #[serde(with = "budgets_json")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub budgets: Vec<Budget>,
}

/// A complete, valid person like those of the default seed's customers:
/// `name`, `"{name} LLC"`, a phone, `email`, a Moscow address and a TIN.
///
/// ```
/// let p = yc_billing::emulator::example_person("Acme", "billing@acme.example");
/// assert_eq!(p.longname, "Acme LLC");
/// ```
pub fn example_person(name: &str, email: &str) -> CustomerPerson {
    CustomerPerson {
        name: name.into(),
        longname: format!("{name} LLC"),
        phone: "+70000000000".into(),
        email: email.into(),
        post_code: "101000".into(),
        post_address: "Moscow".into(),
        legal_address: "Moscow".into(),
        tin: "7700000000".into(),
    }
}

impl Default for Seed {
    fn default() -> Self {
        let person = example_person;
        let customer = |n: u32, status, email: Option<&str>| SeedCustomer {
            id: format!("emucustomer00000000{n}"),
            reseller_id: DEFAULT_RESELLER_ID.into(),
            billing_account_id: format!("dn2emu0customer0000{n}"),
            name: format!("Customer {n}"),
            status,
            invitation_email: email.map(str::to_string),
            person: person(
                &format!("Customer {n}"),
                &format!("customer{n}@example.com"),
            ),
        };
        let binding = |role: &str, subject: &str, ty: &str| SeedAccessBinding {
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            role_id: role.into(),
            subject_id: subject.into(),
            subject_type: ty.into(),
        };
        Self {
            billing_accounts: vec![SeedBillingAccount {
                id: DEFAULT_RESELLER_ID.into(),
                name: "Emulated Reseller".into(),
                balance: "100000.00".into(),
                ..SeedBillingAccount::default()
            }],
            customers: vec![
                customer(1, CustomerStatus::Active, None),
                customer(2, CustomerStatus::Suspended, None),
                customer(3, CustomerStatus::Invited, Some("customer3@example.com")),
            ],
            access_bindings: vec![
                binding("billing.accounts.owner", DEFAULT_SUBJECT_ID, "userAccount"),
                binding(
                    "billing.accounts.editor",
                    DEFAULT_SERVICE_ACCOUNT_ID,
                    "serviceAccount",
                ),
            ],
            oauth_tokens: vec![SeedToken {
                token: DEFAULT_OAUTH_TOKEN.into(),
                subject_id: DEFAULT_SUBJECT_ID.into(),
                expires_at: None,
            }],
            iam_tokens: vec![
                SeedToken {
                    token: DEFAULT_IAM_TOKEN.into(),
                    subject_id: DEFAULT_SUBJECT_ID.into(),
                    expires_at: None,
                },
                SeedToken {
                    token: NO_RIGHTS_IAM_TOKEN.into(),
                    subject_id: NO_RIGHTS_SUBJECT_ID.into(),
                    expires_at: None,
                },
            ],
            service_accounts: vec![DEFAULT_SERVICE_ACCOUNT_ID.into()],
            service_account_access_bindings: vec![SeedServiceAccountBinding {
                service_account_id: DEFAULT_SERVICE_ACCOUNT_ID.into(),
                role_id: TOKEN_CREATOR_ROLE.into(),
                subject_id: DEFAULT_SUBJECT_ID.into(),
                subject_type: "userAccount".into(),
            }],
            default_subject_id: DEFAULT_SUBJECT_ID.into(),
            default_reseller_id: DEFAULT_RESELLER_ID.into(),
            billable_object_bindings: Vec::new(),
            service_account_keys: Vec::new(),
            usage: super::usage::SeedUsage {
                generate: vec![
                    super::usage::SeedUsageGenerator {
                        billing_account_id: DEFAULT_RESELLER_ID.into(),
                        ..Default::default()
                    },
                    super::usage::SeedUsageGenerator {
                        billing_account_id: "dn2emu0customer00001".into(),
                        seed: 2,
                        clouds: 1,
                        folders_per_cloud: 2,
                        resources: 12,
                        ..Default::default()
                    },
                ],
                records: Vec::new(),
            },
            catalogue: CatalogueOverrides::default(),
            budgets: default_budgets(),
        }
    }
}

/// The budgets of the default seed: a monthly cost budget and a balance
/// budget on the reseller account, a quarterly expense budget from a start
/// date on the first customer's account.
fn default_budgets() -> Vec<Budget> {
    let rule = |ty: ThresholdType, amount: &str| ThresholdRule {
        r#type: ty as i32,
        amount: amount.into(),
        notification_user_account_ids: Vec::new(),
    };
    let owner = vec![DEFAULT_SUBJECT_ID.to_string()];
    vec![
        Budget {
            id: "dn2emu0budget0000001".into(),
            name: "Monthly cloud cost".into(),
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            budget_spec: Some(budget::BudgetSpec::CostBudget(CostBudgetSpec {
                amount: "50000".into(),
                notification_user_account_ids: owner.clone(),
                threshold_rules: vec![
                    rule(ThresholdType::Percent, "50"),
                    rule(ThresholdType::Percent, "90"),
                ],
                filter: None,
                end_date: "2030-12-31".into(),
                start_type: Some(cost_budget_spec::StartType::ResetPeriod(
                    ResetPeriodType::Monthly as i32,
                )),
            })),
            ..Default::default()
        },
        Budget {
            id: "dn2emu0budget0000002".into(),
            name: "Low balance".into(),
            billing_account_id: DEFAULT_RESELLER_ID.into(),
            budget_spec: Some(budget::BudgetSpec::BalanceBudget(BalanceBudgetSpec {
                amount: "10000".into(),
                notification_user_account_ids: owner.clone(),
                threshold_rules: vec![rule(ThresholdType::Amount, "5000")],
                start_date: "2025-01-01".into(),
                end_date: "2030-12-31".into(),
            })),
            ..Default::default()
        },
        Budget {
            id: "dn2emu0budget0000003".into(),
            name: "Quarterly expense".into(),
            billing_account_id: "dn2emu0customer00001".into(),
            budget_spec: Some(budget::BudgetSpec::ExpenseBudget(ExpenseBudgetSpec {
                amount: "30000".into(),
                notification_user_account_ids: owner,
                threshold_rules: vec![rule(ThresholdType::Percent, "75")],
                filter: None,
                end_date: "2030-12-31".into(),
                start_type: Some(expense_budget_spec::StartType::StartDate(
                    "2025-01-01".into(),
                )),
            })),
            ..Default::default()
        },
    ]
}

impl Seed {
    /// Parses a seed from JSON; missing top-level keys take their defaults.
    /// A value that does not fit is an error naming its JSON path
    /// (`customers[0].status: unknown variant ...`).
    pub fn from_json(json: &str) -> Result<Self, EmulatorError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let seed: Seed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            EmulatorError::Seed(format!("{path}: {}", e.into_inner()))
        })?;
        de.end()
            .map_err(|e| EmulatorError::Seed(format!("after the seed: {e}")))?;
        seed.check()?;
        Ok(seed)
    }

    /// Checks what the types alone do not: timestamps parse.
    fn check(&self) -> Result<(), EmulatorError> {
        for (i, t) in self.iam_tokens.iter().enumerate() {
            if let Some(at) = &t.expires_at {
                if at.parse::<prost_types::Timestamp>().is_err() {
                    return Err(EmulatorError::Seed(format!(
                        "iam_tokens[{i}].expires_at: {} is not an RFC 3339 time \
                         (e.g. 2030-01-01T00:00:00Z)",
                        super::text::echo(at)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The JSON Schema (draft 2020-12) of seed files, generated from these
    /// types (`yc-billing emulator --print-seed-schema` prints it).
    ///
    /// ```
    /// let schema = yc_billing::emulator::Seed::json_schema();
    /// assert_eq!(schema["title"], "Seed");
    /// ```
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Seed)).expect("a schema is JSON")
    }

    /// Reads a seed from a JSON file.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, EmulatorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| EmulatorError::Seed(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// Serialises the seed as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("seed serialises")
    }
}

/// `CustomerPerson` in seed JSON through the embedded descriptors
/// (`prost-reflect`'s proto3 JSON mapping), so the seed has no copy of the
/// message's fields.
mod person_json {
    use std::sync::OnceLock;

    use prost_reflect::{
        DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
    };
    use serde::{Deserializer, Serializer};

    use crate::proto::yandex::cloud::billing::v1::CustomerPerson;

    fn descriptor() -> &'static MessageDescriptor {
        static DESCRIPTOR: OnceLock<MessageDescriptor> = OnceLock::new();
        DESCRIPTOR.get_or_init(|| {
            DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
                .expect("the descriptor set embedded at build time is valid")
                .get_message_by_name("yandex.cloud.billing.v1.CustomerPerson")
                .expect("CustomerPerson is in the schema")
        })
    }

    pub fn serialize<S: Serializer>(person: &CustomerPerson, s: S) -> Result<S::Ok, S::Error> {
        let mut message = DynamicMessage::new(descriptor().clone());
        message
            .transcode_from(person)
            .map_err(serde::ser::Error::custom)?;
        // Every field, by its proto name: the shape seed files have always had.
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false);
        message.serialize_with_options(s, &options)
    }

    /// An object of the message's fields (all strings), by proto name or
    /// JSON name, read from the descriptor.
    pub fn schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut properties = serde_json::Map::new();
        for field in descriptor().fields() {
            let kind = match field.kind() {
                prost_reflect::Kind::String => "string",
                prost_reflect::Kind::Bool => "boolean",
                prost_reflect::Kind::Message(_) => "object",
                _ => "number",
            };
            let doc = format!("`{}` of CustomerPerson", field.name());
            for name in [field.name(), field.json_name()] {
                properties.insert(
                    name.to_string(),
                    serde_json::json!({"type": kind, "description": doc}),
                );
            }
        }
        schemars::json_schema!({
            "type": "object",
            "description": "The API's CustomerPerson in proto3 JSON (snake_case or camelCase); unknown fields are ignored",
            "properties": properties,
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CustomerPerson, D::Error> {
        let options = DeserializeOptions::new().deny_unknown_fields(false);
        DynamicMessage::deserialize_with_options(descriptor().clone(), d, &options)?
            .transcode_to()
            .map_err(serde::de::Error::custom)
    }
}

/// A list of `Budget`s in seed JSON through the embedded descriptors, as
/// `person_json` does for persons.
mod budgets_json {
    use prost_reflect::{DeserializeOptions, DynamicMessage, SerializeOptions};
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::proto::yandex::cloud::billing::v1::Budget;

    fn descriptor() -> prost_reflect::MessageDescriptor {
        prost_reflect::DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set embedded at build time is valid")
            .get_message_by_name("yandex.cloud.billing.v1.Budget")
            .expect("Budget is in the schema")
    }

    struct Shown<'a>(&'a DynamicMessage, &'a SerializeOptions);

    impl serde::Serialize for Shown<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.0.serialize_with_options(s, self.1)
        }
    }

    pub fn serialize<S: Serializer>(budgets: &[Budget], s: S) -> Result<S::Ok, S::Error> {
        let descriptor = descriptor();
        let options = SerializeOptions::new().use_proto_field_name(true);
        let mut seq = s.serialize_seq(Some(budgets.len()))?;
        for b in budgets {
            let mut message = DynamicMessage::new(descriptor.clone());
            message
                .transcode_from(b)
                .map_err(serde::ser::Error::custom)?;
            seq.serialize_element(&Shown(&message, &options))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Budget>, D::Error> {
        let descriptor = descriptor();
        let options = DeserializeOptions::new().deny_unknown_fields(false);
        Vec::<serde_json::Value>::deserialize(d)?
            .into_iter()
            .map(|v| {
                DynamicMessage::deserialize_with_options(descriptor.clone(), v, &options)
                    .map_err(serde::de::Error::custom)?
                    .transcode_to::<Budget>()
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_fields_load_in_snake_case_and_camel_case() {
        for key in ["post_code", "postCode"] {
            let json = format!(
                r#"{{"customers": [{{"id": "c1", "reseller_id": "r", "billing_account_id": "a",
                    "name": "C", "status": "ACTIVE",
                    "person": {{"name": "P", "{key}": "101000", "legal_address": "Moscow",
                                "unknown": 1}}}}]}}"#
            );
            let seed = Seed::from_json(&json).expect("seed loads");
            let person = &seed.customers[0].person;
            assert_eq!(person.post_code, "101000", "{key}");
            assert_eq!(person.legal_address, "Moscow");
            assert_eq!(person.name, "P");
        }
    }

    #[test]
    fn a_person_field_of_the_wrong_type_is_a_seed_error() {
        let json = r#"{"customers": [{"id": "c1", "reseller_id": "r", "billing_account_id": "a",
            "name": "C", "status": "ACTIVE", "person": {"tin": 7}}]}"#;
        let err = Seed::from_json(json).expect_err("a number is not a string");
        assert!(matches!(err, EmulatorError::Seed(_)), "{err}");
    }

    #[test]
    fn a_missing_person_is_empty_and_the_seed_round_trips() {
        let json = r#"{"customers": [{"id": "c1", "reseller_id": "r", "billing_account_id": "a",
            "name": "C", "status": "ACTIVE"}]}"#;
        let seed = Seed::from_json(json).unwrap();
        assert_eq!(seed.customers[0].person, CustomerPerson::default());
        let default = Seed::default();
        assert_eq!(Seed::from_json(&default.to_json()).unwrap(), default);
    }

    #[test]
    fn the_default_seed_writes_every_person_field_by_its_proto_name() {
        let json: serde_json::Value = serde_json::from_str(&Seed::default().to_json()).unwrap();
        assert_eq!(
            json["customers"][0]["person"],
            serde_json::json!({
                "name": "Customer 1",
                "longname": "Customer 1 LLC",
                "phone": "+70000000000",
                "email": "customer1@example.com",
                "post_code": "101000",
                "post_address": "Moscow",
                "legal_address": "Moscow",
                "tin": "7700000000",
            })
        );
    }
}
