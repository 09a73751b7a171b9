//! SOAP 1.1 and 1.2 on the wire: the envelope of a call (the operation element with its
//! children from JSON, an optional WS-Security UsernameToken header), and the response's Body
//! as JSON, or its fault.

use ecma_plugin_api::Secret;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value as Json};

const ENVELOPE_11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const ENVELOPE_12: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Nesting of a response converted at most.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V11,
    V12,
}

/// One call's envelope.
pub(crate) struct Call<'a> {
    pub version: Version,
    pub operation: &'a str,
    pub namespace: &'a str,
    pub qualified: bool,
    /// The operation element's children, XML already.
    pub body: &'a str,
    pub security: Option<(&'a str, &'a Secret)>,
}

impl Call<'_> {
    pub(crate) fn envelope(&self) -> String {
        let ns = match self.version {
            Version::V11 => ENVELOPE_11,
            Version::V12 => ENVELOPE_12,
        };
        let mut out =
            format!(r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}">"#);
        if let Some((user, password)) = self.security {
            out.push_str(&format!(
                r#"<soap:Header><wsse:Security xmlns:wsse="{WSSE}" soap:mustUnderstand="1"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type="{PASSWORD_TEXT}">{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>"#,
                escape(user),
                escape(password.expose())
            ));
        }
        out.push_str("<soap:Body>");
        let operation = escape(self.operation);
        let namespace = escape(self.namespace);
        if self.qualified {
            out.push_str(&format!(r#"<{operation} xmlns="{namespace}">"#));
        } else {
            out.push_str(&format!(r#"<m:{operation} xmlns:m="{namespace}">"#));
        }
        out.push_str(self.body);
        if self.qualified {
            out.push_str(&format!("</{operation}>"));
        } else {
            out.push_str(&format!("</m:{operation}>"));
        }
        out.push_str("</soap:Body></soap:Envelope>");
        out
    }

    /// The Content-Type, and the SOAPAction header of SOAP 1.1.
    pub(crate) fn headers(version: Version, action: &str) -> Vec<(String, String)> {
        match version {
            Version::V11 => vec![
                ("Content-Type".into(), "text/xml; charset=utf-8".into()),
                ("SOAPAction".into(), format!("\"{action}\"")),
            ],
            Version::V12 => vec![(
                "Content-Type".into(),
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            )],
        }
    }
}

/// A SOAP fault: its code (`soap:Client`, `Sender`...) and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub code: String,
    pub message: String,
}

/// An element while the response is read.
#[derive(Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<(String, Json)>,
}

impl Element {
    fn into_json(self) -> Json {
        if self.children.is_empty() {
            return Json::String(self.text.trim().to_string());
        }
        let mut map = Map::new();
        for (name, value) in self.children {
            ecma_ws_project::xpath::add_child(&mut map, name, value);
        }
        Json::Object(map)
    }
}

/// The response Body as JSON (`{"OperationResponse": {...}}`), or the fault it holds. Element
/// names are local names; attributes are not kept.
pub(crate) fn read_response(text: &str) -> Result<Result<Json, Fault>, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(format!(
                    "the response is not XML (at byte {}): {e}",
                    reader.buffer_position()
                ))
            }
            Ok(Event::Start(e)) => {
                if stack.len() > MAX_DEPTH {
                    return Err("the response nests too deeply".into());
                }
                stack.push(Element {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                });
            }
            Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(parent) = stack.last_mut() {
                    parent.children.push((name, Json::String(String::new())));
                }
            }
            Ok(Event::Text(t)) => {
                let t = t
                    .unescape()
                    .map_err(|e| format!("bad text in the response: {e}"))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&t);
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::End(_)) => {
                let done = stack.pop().unwrap_or_default();
                let name = done.name.clone();
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, done.into_json())),
                    None => return Err("the response has an unbalanced end tag".into()),
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
        }
    }
    let root = stack.pop().unwrap_or_default().into_json();
    let body = root
        .get("Envelope")
        .and_then(|e| e.get("Body"))
        .cloned()
        .ok_or("the response has no soap:Envelope/soap:Body")?;
    if let Some(fault) = body.get("Fault") {
        let text = |pointer: &str| {
            fault
                .pointer(pointer)
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        return Ok(Err(Fault {
            code: text("/faultcode")
                .or_else(|| text("/Code/Value"))
                .unwrap_or_default(),
            message: text("/faultstring")
                .or_else(|| text("/Reason/Text"))
                .unwrap_or_else(|| "a SOAP fault without a reason".into()),
        }));
    }
    Ok(Ok(match body {
        Json::String(_) => Json::Object(Map::new()),
        other => other,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_with_a_username_token() {
        let body = "<USERNAME>ADELE</USERNAME>";
        let password = Secret::new("p<w");
        let call = Call {
            version: Version::V11,
            operation: "BAPI_USER_CREATE1",
            namespace: "urn:contoso:users",
            qualified: false,
            body,
            security: Some(("svc", &password)),
        };
        let xml = call.envelope();
        assert!(xml.contains("<wsse:Username>svc</wsse:Username>"), "{xml}");
        assert!(xml.contains(">p&lt;w</wsse:Password>"), "{xml}");
        assert!(xml.contains(r#"<soap:Body><m:BAPI_USER_CREATE1 xmlns:m="urn:contoso:users"><USERNAME>ADELE</USERNAME></m:BAPI_USER_CREATE1></soap:Body>"#), "{xml}");
    }

    #[test]
    fn responses_become_json_and_faults_are_read() {
        let ok = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><n:R xmlns:n="urn:x"><LIST><item><U>A</U></item><item><U>B</U></item></LIST><ROWS>2</ROWS><E/></n:R></s:Body></s:Envelope>"#;
        assert_eq!(
            read_response(ok).unwrap().unwrap(),
            json!({"R": {"LIST": {"item": [{"U": "A"}, {"U": "B"}]}, "ROWS": "2", "E": ""}})
        );
        let fault = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>USERNAME is missing</faultstring></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            read_response(fault).unwrap().unwrap_err(),
            Fault {
                code: "s:Client".into(),
                message: "USERNAME is missing".into()
            }
        );
        let fault12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text xml:lang="en">down</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#;
        assert_eq!(
            read_response(fault12).unwrap().unwrap_err().code,
            "e:Receiver"
        );
        assert!(read_response("<html></html>").is_err());
    }
}
