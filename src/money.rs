//! Exact money: the API's decimal strings as [`Decimal`], with a [`Currency`].
//!
//! The Billing API sends prices, costs, credits and quantities as decimal
//! strings (`"1.0625"`, `"-12.5"`, `"1E-7"`) and currencies as ISO codes
//! (`"RUB"`, `"USD"`, `"KZT"`). [`parse_decimal`] reads such a string into a
//! [`rust_decimal::Decimal`] without ever going through a float, and
//! [`Money`] pairs an amount with its currency. Errors name the field and
//! the rule the value breaks.
//!
//! ```
//! use yc_billing::money::{parse_decimal, Currency, Money};
//!
//! let price = Money::parse("rates[0].unit_price", "1.0625", "RUB").unwrap();
//! assert_eq!(price.currency, Currency::Rub);
//! assert_eq!(price.amount * parse_decimal("quantity", "8").unwrap(), parse_decimal("x", "8.5").unwrap());
//! assert_eq!(price.to_string(), "1.0625 RUB");
//!
//! let err = parse_decimal("unit_price", "0.1f").unwrap_err();
//! assert_eq!(err.field(), "unit_price");
//! ```

use std::fmt;
use std::str::FromStr;

pub use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::quote::quoted;

/// The longest decimal string accepted (longer ones are refused before
/// parsing, so a hostile value costs nothing).
pub const MAX_DECIMAL_CHARS: usize = 64;

/// A currency of the Billing API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Currency {
    /// Russian rouble, `RUB`.
    #[serde(rename = "RUB")]
    Rub,
    /// US dollar, `USD`.
    #[serde(rename = "USD")]
    Usd,
    /// Kazakhstani tenge, `KZT`.
    #[serde(rename = "KZT")]
    Kzt,
}

impl Currency {
    /// Every currency, in the order the API documents them.
    pub const ALL: [Currency; 3] = [Currency::Rub, Currency::Usd, Currency::Kzt];

    /// The API's code: `RUB`, `USD` or `KZT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Currency::Rub => "RUB",
            Currency::Usd => "USD",
            Currency::Kzt => "KZT",
        }
    }

    /// Reads the API's code (exactly `RUB`, `USD` or `KZT`); `field` names
    /// the field in the error.
    pub fn parse(field: &str, value: &str) -> Result<Currency, MoneyError> {
        Currency::ALL
            .into_iter()
            .find(|c| c.as_str() == value)
            .ok_or_else(|| MoneyError::Currency {
                field: field.to_owned(),
                value: quoted(value),
            })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse("currency", s)
    }
}

/// An exact amount in a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact (never a float).
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in a currency.
    pub const fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Reads the API's decimal string and currency code; `field` names the
    /// amount's field in the error (the currency's error names
    /// `<field>.currency`).
    pub fn parse(field: &str, amount: &str, currency: &str) -> Result<Money, MoneyError> {
        Ok(Money {
            amount: parse_decimal(field, amount)?,
            currency: Currency::parse(&format!("{field}.currency"), currency)?,
        })
    }

    /// The sum of two amounts of one currency; `None` when the currencies
    /// differ or the sum overflows.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money::new(
            self.amount.checked_add(other.amount)?,
            self.currency,
        ))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.currency)
    }
}

/// Why a money value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// A decimal string is not a decimal number the type can hold exactly.
    #[error("{field}: {value} is not a decimal number: {rule}")]
    Decimal {
        /// The field that held it.
        field: String,
        /// The value, quoted and cut.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A currency code is not one of the API's.
    #[error("{field}: {value} is not a currency of the API (RUB, USD or KZT)")]
    Currency {
        /// The field that held it.
        field: String,
        /// The value, quoted and cut.
        value: String,
    },
}

impl MoneyError {
    /// The field whose value was refused.
    pub fn field(&self) -> &str {
        match self {
            MoneyError::Decimal { field, .. } | MoneyError::Currency { field, .. } => field,
        }
    }
}

/// Reads one of the API's decimal strings exactly: an optional sign, digits
/// with an optional fraction, and an optional exponent (`1E-7`), at most
/// [`MAX_DECIMAL_CHARS`] characters and 28 significant fractional digits;
/// `field` names the field in the error.
pub fn parse_decimal(field: &str, value: &str) -> Result<Decimal, MoneyError> {
    let fail = |rule| MoneyError::Decimal {
        field: field.to_owned(),
        value: quoted(value),
        rule,
    };
    if value.is_empty() {
        return Err(fail("must not be empty"));
    }
    if value.len() > MAX_DECIMAL_CHARS {
        return Err(fail("at most 64 characters"));
    }
    let (mantissa, exponent) = match value.find(['e', 'E']) {
        Some(at) => (&value[..at], Some(&value[at + 1..])),
        None => (value, None),
    };
    let digits = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
        return Err(fail("digits with an optional sign, fraction and exponent"));
    }
    if let Some(exp) = exponent {
        let exp_digits = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        if exp_digits.is_empty() || !all_digits(exp_digits) {
            return Err(fail("the exponent must be digits with an optional sign"));
        }
    }
    let parsed = match exponent {
        None => Decimal::from_str_exact(value),
        Some(_) => Decimal::from_scientific(value),
    };
    parsed.map_err(|_| fail("out of the exact range (28 fractional digits, about 7.9e28)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        parse_decimal("f", s).unwrap()
    }

    #[test]
    fn api_strings_parse_exactly() {
        assert_eq!(dec("0.1") + dec("0.2"), dec("0.3"));
        assert_eq!(dec("-12.50"), Decimal::new(-1250, 2));
        assert_eq!(dec("+7"), Decimal::new(7, 0));
        assert_eq!(dec(".5"), Decimal::new(5, 1));
        assert_eq!(dec("5."), Decimal::new(5, 0));
        assert_eq!(dec("1E-7"), Decimal::new(1, 7));
        assert_eq!(dec("2.5e3"), Decimal::new(2500, 0));
        assert_eq!(dec("0.0000000000000000000000000001"), Decimal::new(1, 28));
    }

    #[test]
    fn bad_strings_name_the_field_and_the_rule() {
        for bad in [
            "", "abc", "1.2.3", "1,5", " 1", "1 ", "-", ".", "1e", "1e+", "0x10", "NaN", "inf",
            "1e-x",
        ] {
            let err = parse_decimal("rates[0].unit_price", bad).unwrap_err();
            assert_eq!(err.field(), "rates[0].unit_price", "{bad:?}");
            assert!(
                err.to_string().starts_with("rates[0].unit_price: "),
                "{err}"
            );
        }
        let long = "1".repeat(65);
        assert!(
            parse_decimal("cost", &long)
                .unwrap_err()
                .to_string()
                .contains("at most 64 characters")
        );
        assert!(
            parse_decimal("cost", "99999999999999999999999999999999")
                .unwrap_err()
                .to_string()
                .contains("exact range")
        );
    }

    #[test]
    fn currencies_round_trip_and_unknown_ones_are_refused() {
        for c in Currency::ALL {
            assert_eq!(c.as_str().parse::<Currency>().unwrap(), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        let err = Money::parse("cost", "1", "rub").unwrap_err();
        assert_eq!(err.field(), "cost.currency");
        assert!(err.to_string().contains("RUB, USD or KZT"), "{err}");
    }

    #[test]
    fn money_adds_only_within_one_currency() {
        let a = Money::parse("a", "1.10", "USD").unwrap();
        let b = Money::parse("b", "2.205", "USD").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "3.305 USD");
        assert_eq!(a.checked_add(Money::zero(Currency::Rub)), None);
    }
}
