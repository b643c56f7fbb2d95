//! The five roles of a team member and what each may do: DESIGN.md's role table, as one pure
//! function ([`Role::allows`]). Not a strict ladder: an auditor sees backup contents that a
//! backup operator, who runs backups, does not.
//!
//! Must not know about HTTP: the server's extractor maps each route to a [`Permission`] and asks.

use std::fmt;
use std::str::FromStr;

/// A team member's role (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    SuperAdmin,
    Admin,
    BackupOperator,
    Auditor,
    ReadOnly,
}

/// One row of DESIGN.md's role table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// See connections and the backup list.
    SeeConnections,
    /// See backup contents and diffs.
    SeeBackupContents,
    /// See compliance reports, download the Audit Pack.
    SeeCompliance,
    /// Run backups, test connections, edit schedules.
    RunBackups,
    /// Create, edit, delete connections.
    ManageConnections,
    /// Restore preview and restore.
    Restore,
    /// See the audit trail.
    SeeAuditTrail,
    /// Manage members and roles, SSO and SCIM settings.
    ManageMembers,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::SuperAdmin,
        Role::Admin,
        Role::BackupOperator,
        Role::Auditor,
        Role::ReadOnly,
    ];

    /// The name used on the command line, in the database and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::BackupOperator => "backup_operator",
            Role::Auditor => "auditor",
            Role::ReadOnly => "read_only",
        }
    }

    /// Whether this role may do `permission` (DESIGN.md's table, row by row).
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            SeeConnections => true,
            SeeBackupContents => matches!(self, SuperAdmin | Admin | Auditor),
            SeeCompliance => matches!(self, SuperAdmin | Admin | BackupOperator | Auditor),
            RunBackups => matches!(self, SuperAdmin | Admin | BackupOperator),
            ManageConnections | Restore => matches!(self, SuperAdmin | Admin),
            SeeAuditTrail => matches!(self, SuperAdmin | Admin | Auditor),
            ManageMembers => matches!(self, SuperAdmin),
        }
    }
}

impl Permission {
    /// The row's words, for "your role may not …".
    pub fn describe(self) -> &'static str {
        match self {
            Permission::SeeConnections => "see connections and the backup list",
            Permission::SeeBackupContents => "see backup contents and diffs",
            Permission::SeeCompliance => "see compliance reports or download the Audit Pack",
            Permission::RunBackups => "run backups, test connections or edit schedules",
            Permission::ManageConnections => "create, edit or delete connections",
            Permission::Restore => "preview or run restores",
            Permission::SeeAuditTrail => "see the audit trail",
            Permission::ManageMembers => "manage members and roles, SSO or SCIM settings",
        }
    }

    pub const ALL: [Permission; 8] = [
        Permission::SeeConnections,
        Permission::SeeBackupContents,
        Permission::SeeCompliance,
        Permission::RunBackups,
        Permission::ManageConnections,
        Permission::Restore,
        Permission::SeeAuditTrail,
        Permission::ManageMembers,
    ];
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected super_admin, admin, backup_operator, auditor or read_only")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md's table, copied as text: one row per permission, columns super_admin, admin,
    /// backup_operator, auditor, read_only.
    const TABLE: &str = "
        see connections and the backup list              | ✓ | ✓ | ✓ | ✓ | ✓
        see backup contents and diffs                    | ✓ | ✓ |   | ✓ |
        see compliance reports, download the Audit Pack  | ✓ | ✓ | ✓ | ✓ |
        run backups, test connections, edit schedules    | ✓ | ✓ | ✓ |   |
        create, edit, delete connections                 | ✓ | ✓ |   |   |
        restore preview and restore                      | ✓ | ✓ |   |   |
        see the audit trail                              | ✓ | ✓ |   | ✓ |
        manage members and roles, SSO and SCIM settings  | ✓ |   |   |   |
    ";

    #[test]
    fn every_role_and_permission_matches_design_table() {
        let rows: Vec<&str> = TABLE
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows.len(), Permission::ALL.len());
        for (row, permission) in rows.iter().zip(Permission::ALL) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 1 + Role::ALL.len(), "row {row}");
            for (cell, role) in cells[1..].iter().zip(Role::ALL) {
                let expected = *cell == "✓";
                assert_eq!(
                    role.allows(permission),
                    expected,
                    "{role} × {permission:?} (row `{}`)",
                    cells[0]
                );
            }
        }
    }

    #[test]
    fn not_a_ladder_auditor_sees_contents_that_backup_operator_does_not() {
        assert!(Role::Auditor.allows(Permission::SeeBackupContents));
        assert!(!Role::BackupOperator.allows(Permission::SeeBackupContents));
        assert!(Role::BackupOperator.allows(Permission::RunBackups));
        assert!(!Role::Auditor.allows(Permission::RunBackups));
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let error = "owner".parse::<Role>().unwrap_err();
        assert!(
            error.to_string().contains("unknown role `owner`"),
            "{error}"
        );
        assert!("Admin".parse::<Role>().is_err(), "names are exact");
    }
}
