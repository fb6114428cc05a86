//! `yandex.cloud.billing.v1.BillingAccountService`.

use super::Call;
use crate::operation::Operation;
use crate::pagination::Page;
use crate::proto::yandex::cloud::access::{
    AccessBinding, AccessBindingAction, AccessBindingDelta, ListAccessBindingsRequest, Subject,
    UpdateAccessBindingsMetadata, UpdateAccessBindingsRequest,
};
use crate::proto::yandex::cloud::billing::v1::{
    BillableObject, BillableObjectBinding, BillingAccount, BindBillableObjectMetadata,
    BindBillableObjectRequest, GetBillingAccountRequest, ListBillableObjectBindingsRequest,
    ListBillingAccountsRequest,
};

/// Billing accounts, their bindings and access. Get it with
/// [`Client::billing_accounts`](crate::Client::billing_accounts); the
/// generated `*_request` constructors send a request built by the caller.
pub type BillingAccounts = super::BillingAccountService;

/// The call of `UpdateAccessBindings`; add changes with
/// [`add`](Call::add) and [`remove`](Call::remove).
pub type UpdateAccessBindingsCall =
    Call<UpdateAccessBindingsRequest, Operation<UpdateAccessBindingsMetadata, ()>>;

impl BillableObject {
    /// A billable object of type `type` with id `id`.
    pub fn new(r#type: impl Into<String>, id: impl Into<String>) -> Self {
        BillableObject {
            id: id.into(),
            r#type: r#type.into(),
        }
    }

    /// A cloud, the billable object that billing accounts pay for.
    pub fn cloud(cloud_id: impl Into<String>) -> Self {
        Self::new("cloud", cloud_id)
    }
}

impl BillingAccounts {
    /// One billing account.
    pub fn get(&self, id: impl Into<String>) -> Call<GetBillingAccountRequest, BillingAccount> {
        self.get_request(GetBillingAccountRequest { id: id.into() })
    }

    /// One page of the billing accounts the caller can see.
    pub fn list(&self) -> Call<ListBillingAccountsRequest, Page<BillingAccount>> {
        self.list_request(ListBillingAccountsRequest::default())
    }

    /// One page of the objects bound to a billing account.
    pub fn list_billable_object_bindings(
        &self,
        billing_account_id: impl Into<String>,
    ) -> Call<ListBillableObjectBindingsRequest, Page<BillableObjectBinding>> {
        self.list_billable_object_bindings_request(ListBillableObjectBindingsRequest {
            billing_account_id: billing_account_id.into(),
            ..Default::default()
        })
    }

    /// Binds an object (a cloud: [`BillableObject::cloud`]) to a billing account.
    pub fn bind_billable_object(
        &self,
        billing_account_id: impl Into<String>,
        billable_object: BillableObject,
    ) -> Call<BindBillableObjectRequest, Operation<BindBillableObjectMetadata, BillableObjectBinding>>
    {
        self.bind_billable_object_request(BindBillableObjectRequest {
            billing_account_id: billing_account_id.into(),
            billable_object: Some(billable_object),
        })
    }

    /// One page of the access bindings of a billing account.
    pub fn list_access_bindings(
        &self,
        billing_account_id: impl Into<String>,
    ) -> Call<ListAccessBindingsRequest, Page<AccessBinding>> {
        self.list_access_bindings_request(ListAccessBindingsRequest {
            resource_id: billing_account_id.into(),
            ..Default::default()
        })
    }

    /// Changes the access bindings of a billing account; add the changes
    /// with [`add`](Call::add) and [`remove`](Call::remove) (the server
    /// requires at least one).
    ///
    /// ```no_run
    /// # async fn f(client: yc_billing::Client) -> yc_billing::Result<()> {
    /// client
    ///     .billing_accounts()
    ///     .update_access_bindings("billing-account-id")
    ///     .add("billing.accounts.viewer", "userAccount", "user-id")
    ///     .remove("billing.accounts.editor", "userAccount", "user-id")
    ///     .await?
    ///     .wait()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn update_access_bindings(
        &self,
        billing_account_id: impl Into<String>,
    ) -> UpdateAccessBindingsCall {
        self.update_access_bindings_request(UpdateAccessBindingsRequest {
            resource_id: billing_account_id.into(),
            access_binding_deltas: Vec::new(),
        })
    }
}

impl UpdateAccessBindingsCall {
    /// Adds a change to the request.
    pub fn delta(
        mut self,
        action: AccessBindingAction,
        role_id: impl Into<String>,
        subject_type: impl Into<String>,
        subject_id: impl Into<String>,
    ) -> Self {
        self.request.access_binding_deltas.push(AccessBindingDelta {
            action: action as i32,
            access_binding: Some(AccessBinding {
                role_id: role_id.into(),
                subject: Some(Subject {
                    id: subject_id.into(),
                    r#type: subject_type.into(),
                }),
            }),
        });
        self
    }

    /// Grants `role_id` to the subject (`subject_type` is for example
    /// `userAccount`, `serviceAccount`, `federatedUser`).
    pub fn add(
        self,
        role_id: impl Into<String>,
        subject_type: impl Into<String>,
        subject_id: impl Into<String>,
    ) -> Self {
        self.delta(AccessBindingAction::Add, role_id, subject_type, subject_id)
    }

    /// Revokes `role_id` from the subject.
    pub fn remove(
        self,
        role_id: impl Into<String>,
        subject_type: impl Into<String>,
        subject_id: impl Into<String>,
    ) -> Self {
        self.delta(
            AccessBindingAction::Remove,
            role_id,
            subject_type,
            subject_id,
        )
    }
}
