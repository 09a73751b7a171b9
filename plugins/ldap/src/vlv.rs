//! Virtual list view (draft-ietf-ldapext-ldapv3-vlv) with server-side sort (RFC 2891), for
//! servers that offer it but not paged results: the search is read window by window.

use bytes::BytesMut;
use ldap3::asn1::{
    parse_tag, parse_uint, write, ASNTag, Integer, OctetString, Sequence, Tag, TagClass, PL,
};
use ldap3::controls::RawControl;

pub(crate) const REQUEST_OID: &str = "2.16.840.1.113730.3.4.9";
pub(crate) const RESPONSE_OID: &str = "2.16.840.1.113730.3.4.10";
pub(crate) const SORT_OID: &str = "1.2.840.113556.1.4.473";

fn encode(tag: Tag) -> Vec<u8> {
    let mut buf = BytesMut::with_capacity(64);
    // Encoding into memory cannot fail short of running out of it.
    let _ = write::encode_into(&mut buf, tag.into_structure());
    buf.to_vec()
}

fn integer(value: i64) -> Tag {
    Tag::Integer(Integer {
        inner: value,
        ..Default::default()
    })
}

/// The sort control: one key, with its ordering rule.
pub(crate) fn sort(attribute: &str, ordering_rule: Option<&str>) -> RawControl {
    let mut key = vec![Tag::OctetString(OctetString {
        inner: attribute.as_bytes().to_vec(),
        ..Default::default()
    })];
    if let Some(rule) = ordering_rule {
        key.push(Tag::OctetString(OctetString {
            id: 0,
            class: TagClass::Context,
            inner: rule.as_bytes().to_vec(),
        }));
    }
    let keys = Tag::Sequence(Sequence {
        inner: vec![Tag::Sequence(Sequence {
            inner: key,
            ..Default::default()
        })],
        ..Default::default()
    });
    RawControl {
        ctype: SORT_OID.to_string(),
        crit: true,
        val: Some(encode(keys)),
    }
}

/// The window request: `count` entries from `offset` (1-based), by offset.
pub(crate) fn request(
    offset: i64,
    count: i64,
    content_count: i64,
    context: Option<&[u8]>,
) -> RawControl {
    let by_offset = Tag::Sequence(Sequence {
        id: 0,
        class: TagClass::Context,
        inner: vec![integer(offset), integer(content_count)],
    });
    let mut inner = vec![integer(0), integer((count - 1).max(0)), by_offset];
    if let Some(context) = context {
        inner.push(Tag::OctetString(OctetString {
            inner: context.to_vec(),
            ..Default::default()
        }));
    }
    let value = Tag::Sequence(Sequence {
        inner,
        ..Default::default()
    });
    RawControl {
        ctype: REQUEST_OID.to_string(),
        crit: true,
        val: Some(encode(value)),
    }
}

/// What the server says of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub target_position: u64,
    pub content_count: u64,
    pub result: u64,
    pub context: Option<Vec<u8>>,
}

/// Parse the response control's value; `None` if it is not one.
pub(crate) fn parse_response(value: &[u8]) -> Option<Response> {
    let (_, tag) = parse_tag(value).ok()?;
    let PL::C(parts) = tag.payload else {
        return None;
    };
    let mut parts = parts.into_iter();
    let mut number = || -> Option<u64> {
        let PL::P(bytes) = parts.next()?.payload else {
            return None;
        };
        parse_uint(&bytes).ok().map(|(_, n)| n)
    };
    let target_position = number()?;
    let content_count = number()?;
    let result = number()?;
    let context = parts.next().and_then(|t| match t.payload {
        PL::P(bytes) => Some(bytes),
        PL::C(_) => None,
    });
    Some(Response {
        target_position,
        content_count,
        result,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests_and_reads_responses() {
        // SEQUENCE { 0, 9, [0] { 11, 0 } }
        assert_eq!(
            request(11, 10, 0, None).val.unwrap(),
            vec![
                0x30, 0x0e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x09, 0xa0, 0x06, 0x02, 0x01, 0x0b, 0x02,
                0x01, 0x00
            ]
        );
        // SEQUENCE { SEQUENCE { "cn", [0] "m" } }
        assert_eq!(
            sort("cn", Some("m")).val.unwrap(),
            vec![0x30, 0x09, 0x30, 0x07, 0x04, 0x02, b'c', b'n', 0x80, 0x01, b'm']
        );
        // SEQUENCE { 11, 25, ENUMERATED 0, "ctx" }
        let response = [
            0x30, 0x0e, 0x02, 0x01, 0x0b, 0x02, 0x01, 0x19, 0x0a, 0x01, 0x00, 0x04, 0x03, b'c',
            b't', b'x',
        ];
        assert_eq!(
            parse_response(&response),
            Some(Response {
                target_position: 11,
                content_count: 25,
                result: 0,
                context: Some(b"ctx".to_vec())
            })
        );
        assert_eq!(parse_response(b"junk"), None);
    }
}
