//! The directory's schema from its subschema entry (RFC 4512 section 4.1): object classes and
//! attribute types, and the connector schema built from them.

use std::collections::HashMap;

use ecma_plugin_api::{AttributeDirection, AttributeType, ObjectTypeSchema, SchemaAttribute};
use ldap3::{Ldap, Scope, SearchEntry};

use crate::error::LdapFailure;
use crate::settings::{Anchor, TypeSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassKind {
    Abstract,
    Structural,
    Auxiliary,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectClass {
    pub oid: String,
    pub names: Vec<String>,
    pub sup: Vec<String>,
    pub kind: ClassKind,
    pub must: Vec<String>,
    pub may: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttributeTypeDef {
    pub oid: String,
    pub names: Vec<String>,
    pub sup: Option<String>,
    pub syntax: Option<String>,
    pub ordering: Option<String>,
    pub single_value: bool,
    pub no_user_modification: bool,
    pub operational: bool,
}

/// The parsed subschema, with case-insensitive lookups by name or OID.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subschema {
    classes: Vec<ObjectClass>,
    attributes: Vec<AttributeTypeDef>,
    class_index: HashMap<String, usize>,
    attribute_index: HashMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Dollar,
    Quoted(String),
    Word(String),
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '(' => {
                tokens.push(Token::Open);
                chars.next();
            }
            ')' => {
                tokens.push(Token::Close);
                chars.next();
            }
            '$' => {
                tokens.push(Token::Dollar);
                chars.next();
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    s.push(c);
                }
                tokens.push(Token::Quoted(s));
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '$' || c == '\'' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    tokens
}

/// A description's fields: keyword -> its tokens (a list for `( a $ b )`, one value otherwise).
struct Description {
    oid: String,
    fields: Vec<(String, Vec<String>)>,
}

fn parse_description(text: &str) -> Option<Description> {
    let tokens = tokenize(text);
    let mut iter = tokens.into_iter().peekable();
    if iter.next() != Some(Token::Open) {
        return None;
    }
    let oid = match iter.next()? {
        Token::Word(w) | Token::Quoted(w) => w,
        _ => return None,
    };
    let mut fields = Vec::new();
    while let Some(token) = iter.next() {
        let keyword = match token {
            Token::Word(w) => w.to_ascii_uppercase(),
            Token::Close => break,
            _ => continue,
        };
        let mut values = Vec::new();
        match iter.peek() {
            Some(Token::Open) => {
                iter.next();
                for t in iter.by_ref() {
                    match t {
                        Token::Close => break,
                        Token::Word(w) | Token::Quoted(w) => values.push(w),
                        _ => {}
                    }
                }
            }
            Some(Token::Quoted(_)) => {
                if let Some(Token::Quoted(q)) = iter.next() {
                    values.push(q);
                }
            }
            Some(Token::Word(w))
                if !matches!(
                    w.to_ascii_uppercase().as_str(),
                    "NAME"
                        | "DESC"
                        | "OBSOLETE"
                        | "SUP"
                        | "ABSTRACT"
                        | "STRUCTURAL"
                        | "AUXILIARY"
                        | "MUST"
                        | "MAY"
                        | "EQUALITY"
                        | "ORDERING"
                        | "SUBSTR"
                        | "SYNTAX"
                        | "SINGLE-VALUE"
                        | "COLLECTIVE"
                        | "NO-USER-MODIFICATION"
                        | "USAGE"
                ) && !w.starts_with("X-") =>
            {
                if let Some(Token::Word(w)) = iter.next() {
                    values.push(w);
                }
            }
            _ => {}
        }
        fields.push((keyword, values));
    }
    Some(Description { oid, fields })
}

impl Description {
    fn get(&self, keyword: &str) -> Option<&Vec<String>> {
        self.fields
            .iter()
            .find(|(k, _)| k == keyword)
            .map(|(_, v)| v)
    }
    fn has(&self, keyword: &str) -> bool {
        self.get(keyword).is_some()
    }
    fn list(&self, keyword: &str) -> Vec<String> {
        self.get(keyword).cloned().unwrap_or_default()
    }
}

pub(crate) fn parse_object_class(text: &str) -> Option<ObjectClass> {
    let d = parse_description(text)?;
    let kind = if d.has("AUXILIARY") {
        ClassKind::Auxiliary
    } else if d.has("ABSTRACT") {
        ClassKind::Abstract
    } else {
        ClassKind::Structural
    };
    Some(ObjectClass {
        names: d.list("NAME"),
        sup: d.list("SUP"),
        kind,
        must: d.list("MUST"),
        may: d.list("MAY"),
        oid: d.oid,
    })
}

pub(crate) fn parse_attribute_type(text: &str) -> Option<AttributeTypeDef> {
    let d = parse_description(text)?;
    let usage = d.list("USAGE");
    Some(AttributeTypeDef {
        names: d.list("NAME"),
        sup: d.list("SUP").into_iter().next(),
        syntax: d
            .list("SYNTAX")
            .into_iter()
            .next()
            .map(|s| s.split('{').next().unwrap_or("").to_string()),
        ordering: d.list("ORDERING").into_iter().next(),
        single_value: d.has("SINGLE-VALUE"),
        no_user_modification: d.has("NO-USER-MODIFICATION"),
        operational: usage
            .first()
            .is_some_and(|u| !u.eq_ignore_ascii_case("userApplications")),
        oid: d.oid,
    })
}

const SYNTAX_PREFIX: &str = "1.3.6.1.4.1.1466.115.121.1.";

/// The connector type of an LDAP syntax.
pub(crate) fn syntax_type(syntax: &str) -> AttributeType {
    let Some(number) = syntax.strip_prefix(SYNTAX_PREFIX) else {
        return AttributeType::String;
    };
    match number {
        "12" | "34" => AttributeType::Reference,
        "27" => AttributeType::Integer,
        "7" => AttributeType::Boolean,
        "4" | "5" | "8" | "9" | "10" | "23" | "28" | "40" | "49" => AttributeType::Binary,
        _ => AttributeType::String,
    }
}

/// Operational attributes worth importing when asked, if the server defines them.
pub(crate) const OPERATIONAL: &[&str] = &[
    "entryUUID",
    "nsUniqueId",
    "objectGUID",
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
    "memberOf",
    "uSNChanged",
];

impl Subschema {
    pub(crate) fn from_texts<'a>(
        classes: impl IntoIterator<Item = &'a str>,
        attributes: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut schema = Subschema::default();
        for class in classes.into_iter().filter_map(parse_object_class) {
            let i = schema.classes.len();
            schema.class_index.insert(class.oid.to_ascii_lowercase(), i);
            for n in &class.names {
                schema.class_index.insert(n.to_ascii_lowercase(), i);
            }
            schema.classes.push(class);
        }
        for attribute in attributes.into_iter().filter_map(parse_attribute_type) {
            let i = schema.attributes.len();
            schema
                .attribute_index
                .insert(attribute.oid.to_ascii_lowercase(), i);
            for n in &attribute.names {
                schema.attribute_index.insert(n.to_ascii_lowercase(), i);
            }
            schema.attributes.push(attribute);
        }
        schema
    }

    /// Read the subschema entry the Root DSE names.
    pub(crate) async fn read(ldap: &mut Ldap, subschema_dn: &str) -> Result<Self, LdapFailure> {
        let dn = if subschema_dn.is_empty() {
            "cn=Subschema"
        } else {
            subschema_dn
        };
        let operation = format!("read the subschema entry `{dn}`");
        let result = ldap
            .search(
                dn,
                Scope::Base,
                "(objectClass=subschema)",
                vec!["objectClasses", "attributeTypes"],
            )
            .await
            .map_err(|e| LdapFailure::from_client(&operation, e))?;
        let (entries, _) = result
            .success()
            .map_err(|e| LdapFailure::from_client(&operation, e))?;
        let entry = entries.into_iter().next().map(SearchEntry::construct);
        let get = |name: &str| -> Vec<String> {
            entry
                .as_ref()
                .and_then(|e| e.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let classes = get("objectClasses");
        let attributes = get("attributeTypes");
        Ok(Self::from_texts(
            classes.iter().map(String::as_str),
            attributes.iter().map(String::as_str),
        ))
    }

    pub(crate) fn class(&self, name: &str) -> Option<&ObjectClass> {
        self.class_index
            .get(&name.to_ascii_lowercase())
            .and_then(|&i| self.classes.get(i))
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&AttributeTypeDef> {
        let base = name.split(';').next().unwrap_or(name);
        self.attribute_index
            .get(&base.to_ascii_lowercase())
            .and_then(|&i| self.attributes.get(i))
    }

    pub(crate) fn structural_classes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .classes
            .iter()
            .filter(|c| c.kind == ClassKind::Structural)
            .filter_map(|c| c.names.first().cloned())
            .collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names
    }

    pub(crate) fn auxiliary_classes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .classes
            .iter()
            .filter(|c| c.kind == ClassKind::Auxiliary)
            .filter_map(|c| c.names.first().cloned())
            .collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names
    }

    /// The canonical (first) name of an attribute type, or `name` as given.
    pub(crate) fn canonical_attribute(&self, name: &str) -> String {
        self.attribute(name)
            .and_then(|a| a.names.first().cloned())
            .unwrap_or_else(|| name.to_string())
    }

    /// The syntax of an attribute, following `SUP`.
    pub(crate) fn syntax_of(&self, name: &str) -> Option<String> {
        let mut current = self.attribute(name)?;
        for _ in 0..16 {
            if let Some(s) = &current.syntax {
                return Some(s.clone());
            }
            current = self.attribute(current.sup.as_deref()?)?;
        }
        None
    }

    /// The ordering rule of an attribute, following `SUP`.
    pub(crate) fn ordering_of(&self, name: &str) -> Option<String> {
        let mut current = self.attribute(name)?;
        for _ in 0..16 {
            if let Some(o) = &current.ordering {
                return Some(o.clone());
            }
            current = self.attribute(current.sup.as_deref()?)?;
        }
        None
    }

    /// A sort key for VLV: an attribute entries have, with an ordering rule (its own, or
    /// case-ignore for strings).
    pub(crate) fn sort_key(&self, preferred: &str) -> (String, Option<String>) {
        for name in [preferred, "entryUUID", "nsUniqueId", "uid", "cn"] {
            if self.attribute(name).is_none() {
                continue;
            }
            if let Some(rule) = self.ordering_of(name) {
                return (self.canonical_attribute(name), Some(rule));
            }
            if self.type_of(name) == AttributeType::String {
                return (
                    self.canonical_attribute(name),
                    Some("caseIgnoreOrderingMatch".into()),
                );
            }
        }
        ("cn".into(), Some("caseIgnoreOrderingMatch".into()))
    }

    pub(crate) fn type_of(&self, name: &str) -> AttributeType {
        if name.contains(";binary") {
            return AttributeType::Binary;
        }
        self.syntax_of(name)
            .map(|s| syntax_type(&s))
            .unwrap_or(AttributeType::String)
    }

    pub(crate) fn is_single_valued(&self, name: &str) -> bool {
        self.attribute(name).is_some_and(|a| a.single_value)
    }

    /// The class and its superclasses, each once (bounded, so a cyclic schema cannot loop).
    fn lineage(&self, class: &str) -> Vec<&ObjectClass> {
        let mut out: Vec<&ObjectClass> = Vec::new();
        let mut pending = vec![class.to_string()];
        while let Some(name) = pending.pop() {
            let Some(c) = self.class(&name) else { continue };
            if out.iter().any(|o| o.oid == c.oid) || out.len() > 64 {
                continue;
            }
            pending.extend(c.sup.iter().cloned());
            out.push(c);
        }
        out
    }

    /// The class's attributes and those of its superclasses (MUST first), canonical names.
    pub(crate) fn class_attributes(&self, class: &str) -> Vec<String> {
        let lineage = self.lineage(class);
        let must = lineage.iter().flat_map(|c| c.must.iter());
        let may = lineage.iter().flat_map(|c| c.may.iter());
        let mut out: Vec<String> = Vec::new();
        for a in must.chain(may) {
            let canonical = self.canonical_attribute(a);
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&canonical)) {
                out.push(canonical);
            }
        }
        out
    }

    /// Attributes an entry of this class must have (for adds).
    pub(crate) fn required_attributes(&self, class: &str) -> Vec<String> {
        self.lineage(class)
            .iter()
            .flat_map(|c| c.must.iter().map(|a| self.canonical_attribute(a)))
            .collect()
    }

    /// The class and its superclasses' names, most general last (for `objectClass` on add).
    pub(crate) fn class_chain(&self, class: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = self.class(class);
        while let Some(c) = current {
            if let Some(n) = c.names.first() {
                if out.iter().any(|o: &String| o.eq_ignore_ascii_case(n)) || out.len() > 32 {
                    break;
                }
                out.push(n.clone());
            }
            current = c.sup.first().and_then(|s| self.class(s));
        }
        out
    }
}

/// Why an object type cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error("object class `{0}` is not in the directory's schema (parameter `object_classes`); the structural classes are: {1}")]
    UnknownClass(String, String),
    #[error("object class `{0}` is {1:?}, and only a structural class can be an object type (parameter `object_classes`)")]
    NotStructural(String, ClassKind),
    #[error("auxiliary class `{aux}` (parameter `{class}:auxiliary_classes`) is not an auxiliary class of the directory's schema")]
    UnknownAuxiliary { class: String, aux: String },
    #[error(
        "parameter `{class}:anchor`: `{anchor}` is not an attribute type of the directory's schema"
    )]
    UnknownAnchor { class: String, anchor: String },
    #[error("parameter `{class}:anchor`: `{anchor}` is multi-valued in the directory's schema, and an anchor names one object: choose `-dn-`, entryUUID, nsUniqueId, objectGUID or a single-valued attribute")]
    MultiValuedAnchor { class: String, anchor: String },
}

/// What an object type exposes, with names as the schema writes them.
pub(crate) struct TypeShape {
    pub schema: ObjectTypeSchema,
    /// The structural class and its superclasses, then the auxiliary classes: `objectClass`
    /// of a new entry.
    pub object_classes: Vec<String>,
}

/// Build one object type from its class, auxiliary classes, anchor and options.
pub(crate) fn object_type(
    subschema: &Subschema,
    settings: &TypeSettings,
    password_attribute: &str,
    aliases: &[String],
    include_operational: bool,
) -> Result<TypeShape, SchemaError> {
    let class = subschema.class(&settings.object_class).ok_or_else(|| {
        SchemaError::UnknownClass(
            settings.object_class.clone(),
            subschema.structural_classes().join(", "),
        )
    })?;
    if class.kind != ClassKind::Structural {
        return Err(SchemaError::NotStructural(
            settings.object_class.clone(),
            class.kind,
        ));
    }
    let class_name = class
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| settings.object_class.clone());
    let mut names = subschema.class_attributes(&class_name);
    let mut object_classes = subschema.class_chain(&class_name);
    for aux in &settings.auxiliary_classes {
        let found = subschema
            .class(aux)
            .filter(|c| c.kind == ClassKind::Auxiliary)
            .ok_or_else(|| SchemaError::UnknownAuxiliary {
                class: settings.object_class.clone(),
                aux: aux.clone(),
            })?;
        let aux_name = found.names.first().cloned().unwrap_or_else(|| aux.clone());
        for a in subschema.class_attributes(&aux_name) {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&a)) {
                names.push(a);
            }
        }
        object_classes.push(aux_name);
    }
    let mut attributes: Vec<SchemaAttribute> = Vec::new();
    for name in names {
        if name.eq_ignore_ascii_case(password_attribute) {
            continue; // set through set_password only, never stored or imported
        }
        let name = aliases
            .iter()
            .find(|alias| {
                alias
                    .split(';')
                    .next()
                    .is_some_and(|b| b.eq_ignore_ascii_case(&name))
            })
            .cloned()
            .unwrap_or(name);
        let def = subschema.attribute(&name);
        attributes.push(SchemaAttribute {
            attribute_type: subschema.type_of(&name),
            multi_valued: name.eq_ignore_ascii_case("objectClass")
                || !subschema.is_single_valued(&name),
            direction: if def.is_some_and(|d| d.no_user_modification) {
                AttributeDirection::ImportOnly
            } else {
                AttributeDirection::ImportExport
            },
            name,
        });
    }
    let extra_operational = |name: &str, attributes: &mut Vec<SchemaAttribute>| {
        if attributes.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
            return;
        }
        let canonical = subschema.canonical_attribute(name);
        attributes.push(SchemaAttribute {
            attribute_type: if canonical.eq_ignore_ascii_case("objectGUID") {
                AttributeType::Binary
            } else {
                subschema.type_of(&canonical)
            },
            multi_valued: !subschema.is_single_valued(&canonical)
                && !canonical.eq_ignore_ascii_case("objectGUID")
                && !canonical.eq_ignore_ascii_case("nsUniqueId")
                && !canonical.eq_ignore_ascii_case("entryUUID"),
            direction: AttributeDirection::ImportOnly,
            name: canonical,
        });
    };
    let anchor = match &settings.anchor {
        Anchor::Dn => crate::settings::DN_ANCHOR.to_string(),
        Anchor::Attribute(a) => {
            let known = ["entryUUID", "nsUniqueId", "objectGUID"];
            let is_known_id = known.iter().any(|k| k.eq_ignore_ascii_case(a));
            if !is_known_id && subschema.attribute(a).is_none() {
                return Err(SchemaError::UnknownAnchor {
                    class: settings.object_class.clone(),
                    anchor: a.clone(),
                });
            }
            if !is_known_id && !subschema.is_single_valued(a) {
                return Err(SchemaError::MultiValuedAnchor {
                    class: settings.object_class.clone(),
                    anchor: a.clone(),
                });
            }
            let canonical = if is_known_id {
                known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(a))
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| a.clone())
            } else {
                subschema.canonical_attribute(a)
            };
            extra_operational(&canonical, &mut attributes);
            canonical
        }
    };
    if include_operational {
        for name in OPERATIONAL {
            if subschema.attribute(name).is_some() {
                extra_operational(name, &mut attributes);
            }
        }
    }
    // The anchor is single-valued whatever the schema says of it (entryUUID is).
    for a in attributes.iter_mut().filter(|a| a.name == anchor) {
        a.multi_valued = false;
    }
    Ok(TypeShape {
        schema: ObjectTypeSchema {
            name: class_name,
            anchor: vec![anchor],
            attributes,
        },
        object_classes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CLASSES: &[&str] = &[
        "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
        "( 2.5.6.6 NAME 'person' DESC 'RFC2256: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber $ seeAlso $ description ) )",
        "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL MAY ( title $ ou ) )",
        "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( mail $ uid $ employeeNumber $ displayName $ manager $ jpegPhoto $ userCertificate ) )",
        "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) MAY ( owner $ description ) )",
        "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' DESC 'Abstraction of an account with POSIX attributes' SUP top AUXILIARY MUST ( cn $ uid $ uidNumber $ gidNumber $ homeDirectory ) MAY ( loginShell ) )",
    ];
    pub(crate) const ATTRIBUTES: &[&str] = &[
        "( 2.5.4.0 NAME 'objectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
        "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
        "( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s)' SUP name )",
        "( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
        "( 2.5.4.12 NAME 'title' SUP name )",
        "( 2.5.4.11 NAME ( 'ou' 'organizationalUnitName' ) SUP name )",
        "( 2.5.4.13 NAME 'description' SUP name )",
        "( 2.5.4.20 NAME 'telephoneNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.50{32} )",
        "( 2.5.4.34 NAME 'seeAlso' SUP distinguishedName )",
        "( 2.5.4.49 NAME 'distinguishedName' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
        "( 2.5.4.31 NAME 'member' SUP distinguishedName )",
        "( 2.5.4.32 NAME 'owner' SUP distinguishedName )",
        "( 2.5.4.35 NAME 'userPassword' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{128} )",
        "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
        "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
        "( 2.16.840.1.113730.3.1.3 NAME 'employeeNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
        "( 2.16.840.1.113730.3.1.241 NAME 'displayName' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
        "( 0.9.2342.19200300.100.1.10 NAME 'manager' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
        "( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )",
        "( 2.5.4.36 NAME 'userCertificate' DESC 'X.509 user certificate, use ;binary' SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
        "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.1 NAME 'gidNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
        "( 1.3.6.1.1.1.1.4 NAME 'loginShell' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
        "( 1.3.6.1.1.16.4 NAME 'entryUUID' DESC 'UUID of the entry' EQUALITY UUIDMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
        "( 2.5.18.2 NAME 'modifyTimestamp' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    ];

    pub(crate) fn sample() -> Subschema {
        Subschema::from_texts(CLASSES.iter().copied(), ATTRIBUTES.iter().copied())
    }

    fn settings(class: &str, anchor: &str, aux: &[&str]) -> TypeSettings {
        TypeSettings {
            object_class: class.into(),
            anchor: if anchor == "-dn-" {
                Anchor::Dn
            } else {
                Anchor::Attribute(anchor.into())
            },
            dn_template: None,
            auxiliary_classes: aux.iter().map(|s| s.to_string()).collect(),
            import_filter: String::new(),
            import_method: crate::settings::ImportMethod::Automatic,
        }
    }

    #[test]
    fn parses_descriptions() {
        let s = sample();
        assert_eq!(
            s.class("INETORGPERSON").unwrap().kind,
            ClassKind::Structural
        );
        assert_eq!(s.class("posixAccount").unwrap().kind, ClassKind::Auxiliary);
        assert_eq!(s.canonical_attribute("commonName"), "cn");
        assert_eq!(s.type_of("cn"), AttributeType::String);
        assert_eq!(s.type_of("member"), AttributeType::Reference);
        assert_eq!(s.type_of("uidNumber"), AttributeType::Integer);
        assert_eq!(s.type_of("jpegPhoto"), AttributeType::Binary);
        assert_eq!(s.type_of("userCertificate;binary"), AttributeType::Binary);
        assert!(s.is_single_valued("employeeNumber"));
        assert!(!s.is_single_valued("uid"));
        assert_eq!(
            s.class_chain("inetOrgPerson"),
            ["inetOrgPerson", "organizationalPerson", "person", "top"]
        );
        assert_eq!(
            s.structural_classes(),
            [
                "groupOfNames",
                "inetOrgPerson",
                "organizationalPerson",
                "person"
            ]
        );
    }

    #[test]
    fn builds_object_types_with_auxiliary_classes() {
        let s = sample();
        let shape = object_type(
            &s,
            &settings("inetOrgPerson", "entryUUID", &["posixAccount"]),
            "userPassword",
            &["userCertificate;binary".into()],
            false,
        )
        .unwrap();
        let t = &shape.schema;
        assert_eq!(t.anchor, ["entryUUID"]);
        let attr = |n: &str| t.attribute(n).unwrap_or_else(|| panic!("{n} missing"));
        assert!(attr("objectClass").multi_valued);
        assert!(!attr("employeeNumber").multi_valued);
        assert_eq!(attr("manager").attribute_type, AttributeType::Reference);
        assert_eq!(attr("uidNumber").attribute_type, AttributeType::Integer);
        assert_eq!(
            attr("userCertificate;binary").attribute_type,
            AttributeType::Binary
        );
        assert_eq!(attr("entryUUID").direction, AttributeDirection::ImportOnly);
        assert!(!attr("entryUUID").multi_valued);
        assert!(
            t.attribute("userPassword").is_none(),
            "passwords only through set_password"
        );
        assert_eq!(
            shape.object_classes.last().map(String::as_str),
            Some("posixAccount")
        );
        let group = object_type(
            &s,
            &settings("groupOfNames", "-dn-", &[]),
            "userPassword",
            &[],
            false,
        )
        .unwrap();
        assert_eq!(group.schema.anchor, ["-dn-"]);
        assert!(group.schema.attribute("member").unwrap().multi_valued);
    }

    #[test]
    fn refuses_bad_anchors_and_classes() {
        let s = sample();
        let err = |c: &str, a: &str, aux: &[&str]| {
            object_type(&s, &settings(c, a, aux), "userPassword", &[], false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            err("inetOrgPerson", "uid", &[]).contains("multi-valued"),
            "{}",
            err("inetOrgPerson", "uid", &[])
        );
        assert!(err("inetOrgPerson", "nope", &[]).contains("not an attribute type"));
        assert!(err("account", "entryUUID", &[]).contains("structural classes are: groupOfNames"));
        assert!(err("top", "entryUUID", &[]).contains("only a structural class"));
        assert!(err("inetOrgPerson", "entryUUID", &["person"]).contains("auxiliary class"));
        assert!(object_type(
            &s,
            &settings("inetOrgPerson", "employeeNumber", &[]),
            "userPassword",
            &[],
            false
        )
        .is_ok());
    }
}
