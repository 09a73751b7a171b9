//! ldap-utils calls against a running instance: as the admin (add, modify, delete, search
//! parsed into entries, count) or as any command the caller builds.

use std::process::Command;

use crate::ldif::{parse_entries, Entry};
use crate::tools::{self, tool_command, ToolOutput};
use crate::{HarnessError, Slapd, ADMIN_DN};

/// The search scope of [`Slapd::ldapsearch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base,
    One,
    Sub,
    Children,
}

impl Scope {
    fn as_arg(self) -> &'static str {
        match self {
            Scope::Base => "base",
            Scope::One => "one",
            Scope::Sub => "sub",
            Scope::Children => "children",
        }
    }
}

impl Slapd {
    /// A command for an ldap-utils `program` that trusts the test CA (`LDAPTLS_CACERT`,
    /// `LDAPTLS_REQCERT=demand`) and runs in the instance's directory. Add
    /// `LDAPTLS_CERT`/`LDAPTLS_KEY` ([`Slapd::client_cert_path`], [`Slapd::client_key_path`])
    /// for SASL EXTERNAL. Run it with [`Slapd::run`].
    pub fn command(&self, program: &'static str) -> Result<Command, HarnessError> {
        tool_command(program, &self.tls.ca_cert, self.dir.path())
    }

    /// Runs `command` with `stdin` as input, within the tool time-out. The exit status is not
    /// judged: call [`ToolOutput::success`] for that.
    pub fn run(&self, command: Command, stdin: &[u8]) -> Result<ToolOutput, HarnessError> {
        tools::run(command, stdin, self.tool_timeout)
    }

    /// `program -x -H url -D admin -y password-file args...`, failing with its stderr.
    pub fn run_as_admin(
        &self,
        program: &'static str,
        args: &[&str],
        stdin: &[u8],
    ) -> Result<String, HarnessError> {
        let mut command = self.command(program)?;
        command
            .args(["-x", "-H", &self.url(), "-D", ADMIN_DN, "-y"])
            .arg(&self.password_file)
            .args(args);
        self.run(command, stdin)?.success()
    }

    /// Adds the entries of `ldif` as the admin (`ldapadd`).
    pub fn ldapadd(&self, ldif: &str) -> Result<(), HarnessError> {
        self.run_as_admin("ldapadd", &[], ldif.as_bytes()).map(drop)
    }

    /// Applies the change records of `ldif` as the admin (`ldapmodify`; records without a
    /// `changetype` are modifies).
    pub fn ldapmodify(&self, ldif: &str) -> Result<(), HarnessError> {
        self.run_as_admin("ldapmodify", &[], ldif.as_bytes())
            .map(drop)
    }

    /// Deletes the entry `dn` as the admin (`ldapdelete`).
    pub fn ldapdelete(&self, dn: &str) -> Result<(), HarnessError> {
        self.run_as_admin("ldapdelete", &[dn], b"").map(drop)
    }

    /// `ldapsearch` as the admin with `-o ldif-wrap=no` and `args`; returns its output.
    pub fn ldapsearch_raw(&self, args: &[&str]) -> Result<String, HarnessError> {
        let mut all = vec!["-o", "ldif-wrap=no"];
        all.extend_from_slice(args);
        self.run_as_admin("ldapsearch", &all, b"")
    }

    /// The entries under `base` in `scope` matching `filter`, with `attrs` (none: all user
    /// attributes; `+`: operational ones; `1.1`: none).
    pub fn ldapsearch(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, HarnessError> {
        let mut args = vec!["-LLL", "-b", base, "-s", scope.as_arg(), filter];
        args.extend_from_slice(attrs);
        parse_entries(&self.ldapsearch_raw(&args)?)
    }

    /// How many entries under `base` (subtree, `base` included) match `filter`.
    pub fn count(&self, base: &str, filter: &str) -> Result<usize, HarnessError> {
        Ok(self.ldapsearch(base, Scope::Sub, filter, &["1.1"])?.len())
    }
}
