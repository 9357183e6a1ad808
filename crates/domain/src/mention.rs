//! @mentions in internal notes: which colleagues a note calls in.

/// Someone who can be mentioned.
pub struct Person<'a> {
    pub id: i64,
    pub name: &'a str,
    pub email: &'a str,
}

/// The handles a person answers to: their email's local part, their name without spaces, and
/// their first name (when no one else has it), all lower-case.
fn handles(p: &Person<'_>, people: &[Person<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((local, _)) = p.email.split_once('@') {
        out.push(local.to_lowercase());
    }
    let joined: String = p.name.split_whitespace().collect::<String>().to_lowercase();
    if !joined.is_empty() {
        out.push(joined);
    }
    if let Some(first) = p.name.split_whitespace().next().map(str::to_lowercase) {
        let shared = people.iter().filter(|o| {
            o.name
                .split_whitespace()
                .next()
                .is_some_and(|f| f.to_lowercase() == first)
        });
        if shared.count() == 1 {
            out.push(first);
        }
    }
    out
}

/// The people a text mentions (`@maya`, `@maya.lopez`, `@MayaLopez`), each once, in order.
/// A handle that fits several people mentions nobody rather than the wrong person.
pub fn mentioned(text: &str, people: &[Person<'_>]) -> Vec<i64> {
    let all: Vec<(i64, Vec<String>)> = people.iter().map(|p| (p.id, handles(p, people))).collect();
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        // An address like ana@example.com is not a mention: '@' must start a word.
        let before = rest[..at].chars().next_back();
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(after.len());
        let handle = after[..len]
            .trim_end_matches(['.', '-', '_'])
            .to_lowercase();
        rest = &after[len..];
        if before.is_some_and(|c| c.is_alphanumeric()) || handle.is_empty() {
            continue;
        }
        let fits: Vec<i64> = all
            .iter()
            .filter(|(_, hs)| hs.contains(&handle))
            .map(|(id, _)| *id)
            .collect();
        if let [one] = fits[..]
            && !out.contains(&one)
        {
            out.push(one);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Person<'static>> {
        vec![
            Person {
                id: 1,
                name: "Maya Lopez",
                email: "maya@acme.test",
            },
            Person {
                id: 2,
                name: "Sam Park",
                email: "s.park@acme.test",
            },
            Person {
                id: 3,
                name: "Sam Reyes",
                email: "sreyes@acme.test",
            },
        ]
    }

    #[test]
    fn handles_find_people() {
        let p = people();
        assert_eq!(mentioned("@maya can you check?", &p), vec![1]);
        assert_eq!(mentioned("cc @s.park, @SamReyes.", &p), vec![2, 3]);
        assert_eq!(mentioned("@mayalopez and @maya again", &p), vec![1]);
    }

    #[test]
    fn ambiguous_and_non_mentions_are_ignored() {
        let p = people();
        assert!(mentioned("@sam please", &p).is_empty(), "two Sams: nobody");
        assert!(mentioned("write to maya@acme.test", &p).is_empty());
        assert!(mentioned("@ nobody @@ @unknown", &p).is_empty());
        assert!(mentioned("ends with @", &p).is_empty());
    }
}
