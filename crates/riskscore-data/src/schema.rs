//! The Home Credit layout: seven tables (application split in train and test), their columns,
//! primary keys and foreign keys.

use polars::prelude::{DataType, Field, Schema};

use crate::schema_columns as cols;

/// The code Home Credit writes in DAYS_* columns for "no date" (e.g. DAYS_EMPLOYED of
/// pensioners).
pub const DAYS_MISSING_CODE: f64 = 365243.0;

/// How a column is stored once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer key (`SK_ID_*`), read as `Int64`.
    Id,
    /// A number, read as `Float64` (the Kaggle files write some integer columns as `1.0`).
    Num,
    /// A categorical value, read as a string.
    Cat,
}

impl Kind {
    pub fn dtype(self) -> DataType {
        match self {
            Kind::Id => DataType::Int64,
            Kind::Num => DataType::Float64,
            Kind::Cat => DataType::String,
        }
    }
}

/// One of the Home Credit tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    ApplicationTrain,
    ApplicationTest,
    Bureau,
    BureauBalance,
    PreviousApplication,
    PosCashBalance,
    InstallmentsPayments,
    CreditCardBalance,
}

/// A foreign key: `column` of this table refers to the primary key of `parent`.
#[derive(Debug, Clone, Copy)]
pub struct ForeignKey {
    pub column: &'static str,
    pub parent: Table,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::ApplicationTrain,
        Table::ApplicationTest,
        Table::Bureau,
        Table::BureauBalance,
        Table::PreviousApplication,
        Table::PosCashBalance,
        Table::InstallmentsPayments,
        Table::CreditCardBalance,
    ];

    /// The file name without extension, as in the Kaggle data set.
    pub fn stem(self) -> &'static str {
        match self {
            Table::ApplicationTrain => "application_train",
            Table::ApplicationTest => "application_test",
            Table::Bureau => "bureau",
            Table::BureauBalance => "bureau_balance",
            Table::PreviousApplication => "previous_application",
            Table::PosCashBalance => "POS_CASH_balance",
            Table::InstallmentsPayments => "installments_payments",
            Table::CreditCardBalance => "credit_card_balance",
        }
    }

    /// The columns in file order with their kind.
    pub fn columns(self) -> &'static [(&'static str, Kind)] {
        match self {
            Table::ApplicationTrain => cols::APPLICATION_TRAIN,
            Table::ApplicationTest => cols::APPLICATION_TEST,
            Table::Bureau => cols::BUREAU,
            Table::BureauBalance => cols::BUREAU_BALANCE,
            Table::PreviousApplication => cols::PREVIOUS_APPLICATION,
            Table::PosCashBalance => cols::POS_CASH_BALANCE,
            Table::InstallmentsPayments => cols::INSTALLMENTS_PAYMENTS,
            Table::CreditCardBalance => cols::CREDIT_CARD_BALANCE,
        }
    }

    pub fn kind_of(self, column: &str) -> Option<Kind> {
        self.columns()
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, k)| *k)
    }

    /// The categorical columns in file order.
    pub fn categorical_columns(self) -> impl Iterator<Item = &'static str> {
        self.columns()
            .iter()
            .filter(|(_, k)| *k == Kind::Cat)
            .map(|(n, _)| *n)
    }

    /// The typed schema of the whole table.
    pub fn schema(self) -> Schema {
        self.columns()
            .iter()
            .map(|(name, kind)| Field::new((*name).into(), kind.dtype()))
            .collect()
    }

    /// The column whose values are unique in the table, if any.
    pub fn primary_key(self) -> Option<&'static str> {
        match self {
            Table::ApplicationTrain | Table::ApplicationTest => Some("SK_ID_CURR"),
            Table::Bureau => Some("SK_ID_BUREAU"),
            Table::PreviousApplication => Some("SK_ID_PREV"),
            _ => None,
        }
    }

    /// The keys that must point at a row of a parent table. Application rows are the parent of
    /// every `SK_ID_CURR`; both application files together form that parent.
    pub fn foreign_keys(self) -> &'static [ForeignKey] {
        const CURR: ForeignKey = ForeignKey {
            column: "SK_ID_CURR",
            parent: Table::ApplicationTrain,
        };
        match self {
            Table::ApplicationTrain | Table::ApplicationTest => &[],
            Table::Bureau => &[CURR],
            Table::BureauBalance => &[ForeignKey {
                column: "SK_ID_BUREAU",
                parent: Table::Bureau,
            }],
            Table::PreviousApplication => &[CURR],
            Table::PosCashBalance | Table::InstallmentsPayments | Table::CreditCardBalance => &[
                CURR,
                ForeignKey {
                    column: "SK_ID_PREV",
                    parent: Table::PreviousApplication,
                },
            ],
        }
    }

    /// Optional tables may be absent from a data folder: their features are then missing.
    pub fn is_required(self) -> bool {
        matches!(self, Table::ApplicationTrain)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.stem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_is_train_without_target() {
        let train: Vec<_> = Table::ApplicationTrain
            .columns()
            .iter()
            .filter(|(n, _)| *n != "TARGET")
            .collect();
        let test: Vec<_> = Table::ApplicationTest.columns().iter().collect();
        assert_eq!(train, test);
        assert_eq!(Table::ApplicationTrain.columns().len(), 122);
    }

    #[test]
    fn column_counts_match_kaggle() {
        let counts: Vec<usize> = Table::ALL.iter().map(|t| t.columns().len()).collect();
        assert_eq!(counts, [122, 121, 17, 3, 37, 8, 8, 23]);
        assert_eq!(Table::Bureau.categorical_columns().count(), 3);
        assert_eq!(Table::PreviousApplication.categorical_columns().count(), 16);
    }
}
