//! Regions and their well-known endpoints.

use std::fmt;
use std::str::FromStr;

/// A Yandex Cloud installation, which fixes the host names of every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Region {
    /// Russia: `*.api.cloud.yandex.net:443`.
    #[default]
    Ru,
    /// Kazakhstan: `*.api.yandexcloud.kz:443`.
    Kz,
}

/// The API services this crate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// `yandex.cloud.billing.v1` services.
    Billing,
    /// `yandex.cloud.operation.OperationService`.
    Operation,
    /// `yandex.cloud.iam.v1.IamTokenService`.
    Iam,
    /// `yandex.cloud.endpoint.ApiEndpointService` (discovery).
    Discovery,
}

impl Service {
    /// The id of the service in `ApiEndpointService.List` (`billing`, `operation`, `iam`).
    pub fn endpoint_id(self) -> &'static str {
        match self {
            Service::Billing => "billing",
            Service::Operation => "operation",
            Service::Iam => "iam",
            Service::Discovery => "endpoint",
        }
    }
}

impl Region {
    /// Every region, in declaration order.
    ///
    /// ```
    /// use yc_billing::region::Region;
    /// assert!(Region::ALL.contains(&Region::Kz));
    /// ```
    pub const ALL: [Region; 2] = [Region::Ru, Region::Kz];

    const fn domain(self) -> &'static str {
        match self {
            Region::Ru => "api.cloud.yandex.net",
            Region::Kz => "api.yandexcloud.kz",
        }
    }

    /// `host:port` of a service in this region, for example `billing.api.cloud.yandex.net:443`.
    ///
    /// ```
    /// use yc_billing::region::{Region, Service};
    /// assert_eq!(Region::Kz.endpoint(Service::Iam), "iam.api.yandexcloud.kz:443");
    /// assert_eq!(Region::Ru.endpoint(Service::Discovery), "api.cloud.yandex.net:443");
    /// ```
    pub fn endpoint(self, service: Service) -> String {
        match service {
            Service::Discovery => format!("{}:443", self.domain()),
            s => format!("{}.{}:443", s.endpoint_id(), self.domain()),
        }
    }

    /// The region whose API (discovery) endpoint `endpoint` is, as the `yc`
    /// CLI's `endpoint` setting names it: `api.yandexcloud.kz:443` is
    /// [`Region::Kz`]. A scheme, the port 443 and a trailing `/` may be
    /// present; any other address is `None` (a private installation or an
    /// emulator, reached through discovery at that address).
    ///
    /// ```
    /// use yc_billing::region::Region;
    /// assert_eq!(Region::from_api_endpoint("api.yandexcloud.kz:443"), Some(Region::Kz));
    /// assert_eq!(Region::from_api_endpoint("https://api.cloud.yandex.net"), Some(Region::Ru));
    /// assert_eq!(Region::from_api_endpoint("API.cloud.yandex.net:443/"), Some(Region::Ru));
    /// assert_eq!(Region::from_api_endpoint("api.cloud.yandex.net:8443"), None);
    /// assert_eq!(Region::from_api_endpoint("127.0.0.1:50051"), None);
    /// ```
    pub fn from_api_endpoint(endpoint: &str) -> Option<Region> {
        let e = endpoint.trim();
        let e = e
            .strip_prefix("https://")
            .or_else(|| e.strip_prefix("grpcs://"))
            .unwrap_or(e);
        let e = e.strip_suffix('/').unwrap_or(e);
        let host = e.strip_suffix(":443").unwrap_or(e);
        Region::ALL
            .into_iter()
            .find(|r| host.eq_ignore_ascii_case(r.domain()))
    }

    /// The `aud` claim of a service-account JWT in this region.
    ///
    /// ```
    /// use yc_billing::region::Region;
    /// assert_eq!(Region::Ru.jwt_audience(), "https://iam.api.cloud.yandex.net/iam/v1/tokens");
    /// ```
    pub const fn jwt_audience(self) -> &'static str {
        match self {
            Region::Ru => "https://iam.api.cloud.yandex.net/iam/v1/tokens",
            Region::Kz => "https://iam.api.yandexcloud.kz/iam/v1/tokens",
        }
    }
}

/// The `aud` claim SDKs derive from the API address they are pointed at
/// (the official Python SDK signs `https://iam.{endpoint}/iam/v1/tokens`);
/// for a region's API domain it is that region's
/// [`jwt_audience`](Region::jwt_audience).
///
/// ```
/// use yc_billing::region::{Region, jwt_audience_for};
/// assert_eq!(jwt_audience_for("api.cloud.yandex.net"), Region::Ru.jwt_audience());
/// assert_eq!(jwt_audience_for("127.0.0.1:9"), "https://iam.127.0.0.1:9/iam/v1/tokens");
/// ```
pub fn jwt_audience_for(host_port: &str) -> String {
    format!("https://iam.{host_port}/iam/v1/tokens")
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Ru => "ru",
            Region::Kz => "kz",
        })
    }
}

impl FromStr for Region {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ru" => Ok(Region::Ru),
            "kz" => Ok(Region::Kz),
            _ => Err(crate::Error::config(
                "region",
                format!("unknown region {s:?}: expected `ru` or `kz`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_signs_the_audience_of_its_api_domain() {
        for region in Region::ALL {
            assert_eq!(region.jwt_audience(), jwt_audience_for(region.domain()));
        }
    }
}
