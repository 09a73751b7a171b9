//! Generates numbered inetOrgPerson entries as LDIF, for bulk loads and benchmarks.

use std::fmt::Write as _;
use std::ops::Range;

use crate::PEOPLE_DN;

/// `n` people `uid=user000000` .. under [`PEOPLE_DN`]: see [`people_ldif_range`].
pub fn people_ldif(n: usize) -> String {
    people_ldif_range(0..n)
}

/// The people numbered `range`, each an inetOrgPerson `uid=userNNNNNN,ou=people,...` with
/// `cn`, `sn`, `givenName`, `displayName`, `mail` and `employeeNumber` derived from its number.
pub fn people_ldif_range(range: Range<usize>) -> String {
    let mut ldif = String::with_capacity(range.len() * 260);
    for number in range {
        let _ = write!(
            ldif,
            "dn: uid=user{number:06},{PEOPLE_DN}\n\
             objectClass: inetOrgPerson\n\
             uid: user{number:06}\n\
             cn: User {number}\n\
             sn: Person{number}\n\
             givenName: User\n\
             displayName: User {number}\n\
             mail: user{number:06}@example.com\n\
             employeeNumber: {number}\n\
             \n"
        );
    }
    ldif
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_the_people_of_the_range() {
        let ldif = people_ldif_range(7..9);
        assert_eq!(ldif.matches("dn: ").count(), 2);
        assert!(ldif.starts_with("dn: uid=user000007,ou=people,dc=example,dc=com\n"));
        assert!(ldif.contains("mail: user000008@example.com\n"));
        assert_eq!(people_ldif(0), "");
    }
}
