//! What a member, key or session may do in a tenant.

use serde::{Deserialize, Serialize};

/// A tenant role. Roles are ordered by power: `Owner > Admin > Developer > Viewer`, so a
/// check reads `role >= Role::Developer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including deleting the tenant and managing owners.
    Owner,
    /// Manages members, keys and settings.
    Admin,
    /// Uploads data, writes strategies, submits runs.
    Developer,
    /// Reads.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer];

    /// The role's name as stored and as shown: `"owner"`, `"admin"`, `"developer"`, `"viewer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `s` (exactly as [`Role::as_str`] prints it).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Power as a number: Owner 3, Admin 2, Developer 1, Viewer 0.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Developer => 1,
            Role::Viewer => 0,
        }
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Role {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_power_and_round_trips() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Developer);
        assert!(Role::Developer > Role::Viewer);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(Role::parse("root"), None);
    }
}
