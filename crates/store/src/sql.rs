//! A small builder for statements whose WHERE clause depends on the request. Values are always
//! bound as parameters; only fixed SQL text is concatenated.

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments};

pub enum Arg {
    Int(i64),
    Text(String),
}

#[derive(Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends fixed SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.bind(Arg::Int(v))
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bind(Arg::Text(v.to_string()))
    }

    pub fn query(self) -> sqlx::query::Query<'static, Any, AnyArguments> {
        let mut args = AnyArguments::default();
        for a in self.args {
            // Adding a plain integer or string to the argument buffer cannot fail.
            let _ = match a {
                Arg::Int(v) => args.add(v),
                Arg::Text(v) => args.add(v),
            };
        }
        sqlx::query_with(sqlx::AssertSqlSafe(self.text), args)
    }
}
