//! SOAP discovery: a WSDL 1.1 file (and the WSDLs and XSDs it imports or includes, relative
//! to it) read into the project's [`SoapService`] tree: services, ports with their address,
//! binding and SOAP version, operations with their SOAP action and style, and the structure
//! of their input and output messages from the schema. Documents come through a [`Loader`]:
//! files here ([`discover`]); the host brings one that fetches over HTTP(S)
//! (`ecmahost ws discover --wsdl URL`), with imports resolved against each document's URL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::model::{MessagePart, SoapOperation, SoapPort, SoapService};

const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const SOAP11: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";

/// Imports followed at most (a cycle or a runaway chain stops here).
const MAX_FILES: usize = 64;
/// Nesting of message structures shown at most (recursive types stop here).
const MAX_DEPTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum WsdlError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not well-formed XML at byte {position}: {message}", path.display())]
    Xml {
        path: PathBuf,
        position: u64,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// A loader could not fetch a document (the host's HTTP loader).
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
}

/// Where discovery reads the WSDL and what it imports from.
pub trait Loader {
    /// The text of the document at `location` (the WSDL's own location, or one that
    /// [`Loader::resolve`] gave).
    fn load(&mut self, location: &str) -> Result<String, WsdlError>;
    /// The location of `reference` (a `schemaLocation` or `location`) found in the document
    /// at `base`.
    fn resolve(&self, base: &str, reference: &str) -> Result<String, WsdlError>;
    /// The same document has the same key (imports are read once; cycles end).
    fn key(&self, location: &str) -> String {
        location.to_string()
    }
}

/// Files, imports relative to the importing file's folder.
struct Files;

impl Loader for Files {
    fn load(&mut self, location: &str) -> Result<String, WsdlError> {
        std::fs::read_to_string(location).map_err(|source| WsdlError::Read {
            path: PathBuf::from(location),
            source,
        })
    }

    fn resolve(&self, base: &str, reference: &str) -> Result<String, WsdlError> {
        let dir = Path::new(base).parent().unwrap_or(Path::new(""));
        Ok(dir.join(reference).to_string_lossy().into_owned())
    }

    fn key(&self, location: &str) -> String {
        Path::new(location).canonicalize().map_or_else(
            |_| location.to_string(),
            |p| p.to_string_lossy().into_owned(),
        )
    }
}

/// An XML element with its namespace resolved; text is not kept.
#[derive(Debug, Default)]
struct Node {
    ns: String,
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn children<'a>(&'a self, ns: &str, name: &str) -> impl Iterator<Item = &'a Node> + 'a {
        let (ns, name) = (ns.to_string(), name.to_string());
        self.children.iter().filter(move |c| c.is(&ns, &name))
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children(ns, name).next()
    }

    /// Every descendant (and self) with this name, depth first.
    fn descendants<'a>(&'a self, ns: &str, name: &str, out: &mut Vec<&'a Node>) {
        if self.is(ns, name) {
            out.push(self);
        }
        for c in &self.children {
            c.descendants(ns, name, out);
        }
    }
}

fn parse_xml(text: &str, path: &Path) -> Result<Node, WsdlError> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    let xml_error = |reader: &NsReader<&[u8]>, e: &dyn std::fmt::Display| WsdlError::Xml {
        path: path.to_path_buf(),
        position: reader.buffer_position(),
        message: e.to_string(),
    };
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(e) => return Err(xml_error(&reader, &e)),
        };
        match event {
            Event::Start(e) => stack.push(element(ns, &e).map_err(|m| xml_error(&reader, &m))?),
            Event::Empty(e) => {
                let node = element(ns, &e).map_err(|m| xml_error(&reader, &m))?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().unwrap_or_default();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err(xml_error(&reader, &"unbalanced end tag")),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let root = stack.pop().unwrap_or_default();
    root.children
        .into_iter()
        .next()
        .ok_or_else(|| WsdlError::Invalid {
            path: path.to_path_buf(),
            message: "the file has no root element".into(),
        })
}

fn element(ns: ResolveResult, e: &quick_xml::events::BytesStart) -> Result<Node, String> {
    let ns = match ns {
        ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
        _ => String::new(),
    };
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
        attributes.push((key, value));
    }
    Ok(Node {
        ns,
        name,
        attributes,
        children: Vec::new(),
    })
}

/// The part of a qualified name after its prefix.
fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// Every document reachable from the WSDL at `path`.
struct Documents {
    wsdls: Vec<Node>,
    schemas: Vec<Node>,
}

fn collect(location: &str, loader: &mut dyn Loader) -> Result<Documents, WsdlError> {
    let mut docs = Documents {
        wsdls: Vec::new(),
        schemas: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut queue = vec![location.to_string()];
    while let Some(file) = queue.pop() {
        if !seen.insert(loader.key(&file)) {
            continue;
        }
        if seen.len() > MAX_FILES {
            return Err(WsdlError::Invalid {
                path: PathBuf::from(location),
                message: format!("more than {MAX_FILES} imported files"),
            });
        }
        let text = loader.load(&file)?;
        let root = parse_xml(&text, Path::new(&file))?;
        let mut schemas = Vec::new();
        root.descendants(XSD, "schema", &mut schemas);
        for schema in &schemas {
            for import in schema
                .children(XSD, "import")
                .chain(schema.children(XSD, "include"))
            {
                if let Some(reference) = import.attr("schemaLocation") {
                    queue.push(loader.resolve(&file, reference)?);
                }
            }
        }
        if root.is(WSDL, "definitions") {
            for import in root.children(WSDL, "import") {
                if let Some(reference) = import.attr("location") {
                    queue.push(loader.resolve(&file, reference)?);
                }
            }
            docs.wsdls.push(root);
        } else if root.is(XSD, "schema") {
            docs.schemas.push(root);
        } else {
            return Err(WsdlError::Invalid {
                path: PathBuf::from(file),
                message: format!(
                    "the root element is '{}' in '{}', neither a WSDL 1.1 definitions nor an XML schema",
                    root.name, root.ns
                ),
            });
        }
    }
    // Inline schemas of the WSDLs' types sections count as schemas too.
    let mut inline = Vec::new();
    for wsdl in &docs.wsdls {
        for types in wsdl.children(WSDL, "types") {
            for schema in types.children(XSD, "schema") {
                inline.push(clone_node(schema));
            }
        }
    }
    docs.schemas.extend(inline);
    Ok(docs)
}

fn clone_node(n: &Node) -> Node {
    Node {
        ns: n.ns.clone(),
        name: n.name.clone(),
        attributes: n.attributes.clone(),
        children: n.children.iter().map(clone_node).collect(),
    }
}

impl Documents {
    fn wsdl_items<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Node> + 'a {
        let name = name.to_string();
        self.wsdls.iter().flat_map(move |w| w.children(WSDL, &name))
    }

    fn named<'a>(&'a self, kind: &str, qname: &str) -> Option<&'a Node> {
        let name = local(qname);
        self.wsdl_items(kind).find(|n| n.attr("name") == Some(name))
    }

    fn schema_item(&self, kind: &str, qname: &str) -> Option<&Node> {
        let name = local(qname);
        self.schemas
            .iter()
            .flat_map(|s| s.children(XSD, kind))
            .find(|n| n.attr("name") == Some(name))
    }

    /// The parts of a message, each with its structure.
    fn message(&self, qname: Option<&str>) -> Vec<MessagePart> {
        let Some(message) = qname.and_then(|q| self.named("message", q)) else {
            return Vec::new();
        };
        message
            .children(WSDL, "part")
            .map(|part| {
                let name = part.attr("name").unwrap_or_default().to_string();
                if let Some(element) = part.attr("element") {
                    match self.schema_item("element", element) {
                        Some(e) => self.element(e, 0),
                        None => leaf(name, Some(element.to_string()), false),
                    }
                } else {
                    let value_type = part.attr("type").map(str::to_string);
                    let children = value_type
                        .as_deref()
                        .and_then(|t| self.schema_item("complexType", t))
                        .map(|t| self.complex(t, 1))
                        .unwrap_or_default();
                    MessagePart {
                        name,
                        value_type: if children.is_empty() {
                            value_type
                        } else {
                            None
                        },
                        multi_valued: false,
                        children,
                    }
                }
            })
            .collect()
    }

    fn element(&self, e: &Node, depth: usize) -> MessagePart {
        let multi = e
            .attr("maxOccurs")
            .is_some_and(|m| m == "unbounded" || m.parse::<u32>().is_ok_and(|n| n > 1));
        if let Some(reference) = e.attr("ref") {
            if let Some(target) = self.schema_item("element", reference) {
                if depth < MAX_DEPTH {
                    let mut part = self.element(target, depth + 1);
                    part.multi_valued = multi;
                    return part;
                }
            }
            return leaf(local(reference).to_string(), None, multi);
        }
        let name = e.attr("name").unwrap_or_default().to_string();
        if depth >= MAX_DEPTH {
            return leaf(name, e.attr("type").map(str::to_string), multi);
        }
        if let Some(inline) = e.child(XSD, "complexType") {
            return MessagePart {
                name,
                value_type: None,
                multi_valued: multi,
                children: self.complex(inline, depth + 1),
            };
        }
        match e.attr("type") {
            Some(t) => match self.schema_item("complexType", t) {
                Some(complex) => MessagePart {
                    name,
                    value_type: None,
                    multi_valued: multi,
                    children: self.complex(complex, depth + 1),
                },
                None => leaf(name, Some(t.to_string()), multi),
            },
            None => leaf(name, Some("xsd:string".into()), multi),
        }
    }

    /// The elements of a complex type: its sequence, all or choice, and an extension's base.
    fn complex(&self, t: &Node, depth: usize) -> Vec<MessagePart> {
        let mut out = Vec::new();
        for group in ["sequence", "all", "choice"] {
            for g in t.children(XSD, group) {
                out.extend(g.children(XSD, "element").map(|e| self.element(e, depth)));
            }
        }
        if let Some(extension) = t
            .child(XSD, "complexContent")
            .and_then(|c| c.child(XSD, "extension"))
        {
            if let Some(base) = extension
                .attr("base")
                .and_then(|b| self.schema_item("complexType", b))
            {
                if depth < MAX_DEPTH {
                    out.extend(self.complex(base, depth + 1));
                }
            }
            out.extend(self.complex(extension, depth));
        }
        out
    }
}

fn leaf(name: String, value_type: Option<String>, multi_valued: bool) -> MessagePart {
    MessagePart {
        name,
        value_type,
        multi_valued,
        children: Vec::new(),
    }
}

/// Read the WSDL file at `path` into one [`SoapService`] per `wsdl:service`.
pub fn discover(path: &Path) -> Result<Vec<SoapService>, WsdlError> {
    discover_with(&path.to_string_lossy(), &mut Files)
}

/// Read the WSDL at `location` through `loader` into one [`SoapService`] per
/// `wsdl:service`; `wsdl` of each service records `location`.
pub fn discover_with(
    location: &str,
    loader: &mut dyn Loader,
) -> Result<Vec<SoapService>, WsdlError> {
    let path = Path::new(location);
    let docs = collect(location, loader)?;
    let target_namespace = docs
        .wsdls
        .first()
        .and_then(|w| w.attr("targetNamespace"))
        .map(str::to_string);
    let mut services = Vec::new();
    for service in docs.wsdl_items("service") {
        let mut ports = Vec::new();
        for port in service.children(WSDL, "port") {
            let binding_name = port.attr("binding").unwrap_or_default();
            let Some(binding) = docs.named("binding", binding_name) else {
                return Err(WsdlError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "port '{}' names binding '{binding_name}', which no WSDL defines",
                        port.attr("name").unwrap_or_default()
                    ),
                });
            };
            let (soap_ns, soap_version) = if binding.child(SOAP12, "binding").is_some() {
                (SOAP12, "1.2")
            } else if binding.child(SOAP11, "binding").is_some() {
                (SOAP11, "1.1")
            } else {
                // An HTTP or other binding: not a SOAP port.
                continue;
            };
            let default_style = binding
                .child(soap_ns, "binding")
                .and_then(|b| b.attr("style"))
                .unwrap_or("document");
            let address = port
                .child(soap_ns, "address")
                .and_then(|a| a.attr("location"))
                .unwrap_or_default()
                .to_string();
            let port_type = binding.attr("type").and_then(|t| docs.named("portType", t));
            let mut operations = Vec::new();
            for op in binding.children(WSDL, "operation") {
                let name = op.attr("name").unwrap_or_default();
                let soap_op = op.child(soap_ns, "operation");
                let abstract_op = port_type.and_then(|pt| {
                    pt.children(WSDL, "operation")
                        .find(|o| o.attr("name") == Some(name))
                });
                let message = |direction: &str| {
                    docs.message(
                        abstract_op
                            .and_then(|o| o.child(WSDL, direction))
                            .and_then(|m| m.attr("message")),
                    )
                };
                operations.push(SoapOperation {
                    name: name.to_string(),
                    soap_action: soap_op
                        .and_then(|o| o.attr("soapAction"))
                        .unwrap_or_default()
                        .to_string(),
                    style: soap_op
                        .and_then(|o| o.attr("style"))
                        .unwrap_or(default_style)
                        .to_string(),
                    input: message("input"),
                    output: message("output"),
                });
            }
            ports.push(SoapPort {
                name: port.attr("name").unwrap_or_default().to_string(),
                binding: local(binding_name).to_string(),
                address,
                soap_version: soap_version.to_string(),
                operations,
            });
        }
        services.push(SoapService {
            name: service.attr("name").unwrap_or_default().to_string(),
            wsdl: Some(location.to_string()),
            target_namespace: target_namespace.clone(),
            ports,
        });
    }
    if services.is_empty() {
        return Err(WsdlError::Invalid {
            path: path.to_path_buf(),
            message: "the WSDL defines no service".into(),
        });
    }
    Ok(services)
}

/// The tree as `ecmahost ws discover` prints it.
pub fn render(services: &[SoapService]) -> String {
    fn parts(out: &mut String, list: &[MessagePart], indent: usize) {
        for p in list {
            out.push_str(&" ".repeat(indent));
            out.push_str(&p.name);
            if let Some(t) = &p.value_type {
                out.push_str(&format!(": {t}"));
            }
            if p.multi_valued {
                out.push_str(" [*]");
            }
            out.push('\n');
            parts(out, &p.children, indent + 2);
        }
    }
    let mut out = String::new();
    for s in services {
        out.push_str(&format!("service {}\n", s.name));
        for p in &s.ports {
            out.push_str(&format!(
                "  port {} (binding {}, SOAP {}) at {}\n",
                p.name, p.binding, p.soap_version, p.address
            ));
            for o in &p.operations {
                out.push_str(&format!(
                    "    operation {} ({}, action \"{}\")\n      input\n",
                    o.name, o.style, o.soap_action
                ));
                parts(&mut out, &o.input, 8);
                out.push_str("      output\n");
                parts(&mut out, &o.output, 8);
            }
        }
    }
    out
}
