//! Lines of the operator files (htpasswd, roles, groups, DN maps, enrolled certificates).

/// The lines of `text` (LF or CRLF) with their 1-based numbers, after a leading UTF-8 byte order
/// mark, which some editors write and which would otherwise become part of the first name.
pub(crate) fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::numbered;
    use crate::cert::enrolled::EnrolledCerts;
    use crate::cert::map::UserMap;
    use crate::password::Htpasswd;
    use crate::roles::{GroupFile, RolesFile};

    #[test]
    fn a_byte_order_mark_never_becomes_part_of_a_name() {
        assert_eq!(
            numbered("\u{feff}a\r\nb\n").collect::<Vec<_>>(),
            vec![(1, "a"), (2, "b")]
        );
        // Only a leading mark goes: one further on stays (and is refused where names are checked).
        assert_eq!(numbered("a\n\u{feff}b").nth(1), Some((2, "\u{feff}b")));
        // `Require not group banned` must see mallory in `banned`.
        let groups = GroupFile::parse("\u{feff}banned: mallory\n").unwrap();
        assert!(groups.groups_for("mallory").contains("banned"));
        let roles = RolesFile::parse("\u{feff}alice admin:projectX\n").unwrap();
        assert!(!roles.roles_for("alice").is_empty());
        let users = Htpasswd::parse("\u{feff}demo:{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=\n").unwrap();
        assert!(users.check("demo", "demo").unwrap());
        let map = UserMap::parse("\u{feff}\"CN=a,O=b\" ops\n").unwrap();
        assert_eq!(map.get("CN=a,O=b"), Some("ops"));
        let fp = "ab".repeat(32);
        let enrolled =
            EnrolledCerts::parse(&format!("\u{feff}alice {fp} 1900000000 phone\n")).unwrap();
        assert_eq!(enrolled.entries()[0].user, "alice");
    }
}
