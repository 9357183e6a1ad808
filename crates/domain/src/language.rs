//! Guesses the language of a customer's message from its most common words, so routing can ask
//! for an agent who speaks it. Small and dependency-free: reliable for a sentence or more, and
//! silent (`None`) rather than wrong on greetings, codes and mixed texts.

/// Function words and support small talk per language, lower-case. Words several languages
/// share ("de", "la", "in") are listed in each; they count less for each (see `detect`).
const ENGLISH: &[&str] = &[
    "the", "and", "is", "are", "was", "were", "to", "of", "in", "it", "that", "this", "for",
    "with", "my", "you", "your", "i", "me", "have", "has", "had", "not", "but", "can", "be", "on",
    "at", "from", "please", "thanks", "thank", "hello", "hi", "would", "could", "what", "when",
    "why", "how", "there", "do", "does", "did", "an", "we", "our", "will", "just", "been", "still",
    "any", "should", "if", "or", "they", "don", "doesn", "didn", "isn", "haven", "won", "am",
];

const SPANISH: &[&str] = &[
    "el", "la", "los", "las", "de", "del", "que", "y", "en", "un", "una", "por", "para", "con",
    "no", "es", "mi", "mis", "me", "se", "lo", "le", "al", "como", "pero", "muy", "está", "esta",
    "estoy", "están", "tengo", "tiene", "hola", "gracias", "favor", "puedo", "puede", "sin",
    "también", "cuando", "porque", "usted", "ya", "todavía", "hay", "su", "desde", "este", "eso",
    "esto", "qué", "cómo", "nos", "a", "si", "ha", "han", "buenos", "buenas", "días", "quiero",
    "cuándo", "dónde", "hace", "cada", "vez", "nada", "hasta", "ayuda", "pedido",
];

const FRENCH: &[&str] = &[
    "le", "la", "les", "de", "des", "du", "et", "est", "un", "une", "je", "j", "vous", "nous",
    "il", "elle", "pas", "ne", "n", "que", "qu", "qui", "pour", "dans", "sur", "avec", "mon", "ma",
    "mes", "votre", "vos", "ce", "cette", "c", "au", "aux", "bonjour", "merci", "mais", "ai",
    "suis", "très", "depuis", "toujours", "encore", "en", "l", "d", "été", "peux", "pouvez",
    "aussi", "où", "y", "avez", "êtes", "ça", "madame", "monsieur",
];

const GERMAN: &[&str] = &[
    "der", "die", "das", "und", "ist", "nicht", "ich", "sie", "es", "ein", "eine", "einen",
    "einem", "mit", "für", "auf", "den", "dem", "zu", "von", "mein", "meine", "meinen", "ihr",
    "ihre", "ihnen", "wir", "bitte", "danke", "hallo", "habe", "haben", "hat", "kann", "können",
    "noch", "aber", "schon", "wie", "was", "warum", "seit", "bei", "auch", "sehr", "keine", "kein",
    "guten", "tag", "im", "nach", "wurde", "mir", "mich", "uns", "dass", "oder", "wenn", "nur",
];

const PORTUGUESE: &[&str] = &[
    "o", "os", "a", "as", "de", "do", "da", "dos", "das", "que", "e", "em", "no", "na", "nos",
    "um", "uma", "para", "com", "não", "nao", "por", "meu", "minha", "você", "voce", "eu", "se",
    "mas", "está", "esta", "estou", "tenho", "obrigado", "obrigada", "olá", "ola", "ainda", "já",
    "foi", "ao", "pelo", "pela", "muito", "também", "tambem", "quando", "porque", "isso",
    "consigo", "é", "são", "seu", "sua", "até", "posso", "pode", "bom", "dia", "pedido", "há",
];

const ITALIAN: &[&str] = &[
    "il",
    "lo",
    "la",
    "gli",
    "le",
    "di",
    "del",
    "della",
    "dei",
    "che",
    "e",
    "è",
    "in",
    "un",
    "una",
    "per",
    "con",
    "non",
    "mi",
    "ho",
    "hai",
    "ha",
    "sono",
    "mio",
    "mia",
    "ciao",
    "grazie",
    "buongiorno",
    "salve",
    "ancora",
    "ma",
    "anche",
    "come",
    "perché",
    "perche",
    "quando",
    "questo",
    "questa",
    "al",
    "alla",
    "dal",
    "nel",
    "nella",
    "già",
    "sempre",
    "vorrei",
    "può",
    "posso",
    "sto",
    "ci",
    "si",
    "da",
    "ed",
    "l",
    "c",
    "stato",
    "mai",
    "più",
    "sul",
    "o",
];

const DUTCH: &[&str] = &[
    "de",
    "het",
    "een",
    "en",
    "van",
    "ik",
    "is",
    "niet",
    "dat",
    "die",
    "op",
    "te",
    "met",
    "voor",
    "mijn",
    "je",
    "u",
    "uw",
    "we",
    "wij",
    "zijn",
    "heb",
    "hebben",
    "maar",
    "nog",
    "al",
    "ook",
    "wat",
    "hoe",
    "waarom",
    "bedankt",
    "dank",
    "hallo",
    "alstublieft",
    "graag",
    "kan",
    "kunt",
    "geen",
    "er",
    "naar",
    "om",
    "bij",
    "sinds",
    "wel",
    "dit",
    "deze",
    "werd",
    "mij",
    "ons",
    "hier",
    "goedemorgen",
    "goedemiddag",
    "mogelijk",
    "krijg",
];

const LANGUAGES: [(&str, &[&str]); 7] = [
    ("en", ENGLISH),
    ("es", SPANISH),
    ("fr", FRENCH),
    ("de", GERMAN),
    ("pt", PORTUGUESE),
    ("it", ITALIAN),
    ("nl", DUTCH),
];

/// Only the opening is read: it says enough, and long texts stay cheap.
const MAX_WORDS: usize = 200;
/// Fewer listed words than this is too little to go on ("hola", "ok thanks").
const MIN_HITS: u32 = 3;
/// A word listed in `k` languages adds `WHOLE / k` to each: divisible by every `k` up to 7.
const WHOLE: u32 = 420;

/// The ISO 639-1 code (en, es, fr, de, pt, it or nl) of the language most of the text's common
/// words belong to; `None` for short texts, other languages, or when two languages score close.
pub fn detect(text: &str) -> Option<&'static str> {
    let mut hits = [0u32; LANGUAGES.len()];
    let mut scores = [0u32; LANGUAGES.len()];
    let words = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS);
    for word in words {
        let word = word.to_lowercase();
        let listed = LANGUAGES.map(|(_, list)| list.contains(&word.as_str()));
        let sharing = listed.iter().filter(|l| **l).count();
        let Some(weight) = u32::try_from(sharing)
            .ok()
            .filter(|k| *k > 0)
            .map(|k| WHOLE / k)
        else {
            continue;
        };
        for (i, _) in listed.iter().enumerate().filter(|(_, l)| **l) {
            if let (Some(h), Some(s)) = (hits.get_mut(i), scores.get_mut(i)) {
                *h += 1;
                *s += weight;
            }
        }
    }
    let mut ranked: Vec<usize> = (0..LANGUAGES.len()).collect();
    ranked.sort_by(|a, b| scores[*b].cmp(&scores[*a]));
    let (top, runner_up) = (*ranked.first()?, *ranked.get(1)?);
    let (best, second) = (scores[top], scores[runner_up]);
    // Clear winner: enough evidence, one more distinctive word than the runner-up and a lead
    // of at least a quarter.
    let clear = hits[top] >= MIN_HITS
        && best >= second + WHOLE
        && u64::from(best) * 4 >= u64::from(second) * 5;
    clear.then_some(LANGUAGES[top].0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn detects_customer_messages() {
        let cases = [
            (
                "en",
                "Hi, I ordered a jacket last week and it still has not arrived. Can you check?",
            ),
            (
                "en",
                "I was charged twice for my subscription this month, please refund one of them.",
            ),
            (
                "es",
                "Hola, no puedo entrar a mi cuenta desde ayer. ¿Me pueden ayudar por favor?",
            ),
            (
                "es",
                "Me cobraron dos veces el pedido y todavía no me llega la factura.",
            ),
            (
                "fr",
                "Bonjour, je n'arrive pas à me connecter à mon compte depuis hier. Merci de votre aide.",
            ),
            (
                "fr",
                "J'ai reçu un colis abîmé et je voudrais un remboursement, s'il vous plaît.",
            ),
            (
                "de",
                "Hallo, ich habe meine Bestellung noch nicht erhalten. Können Sie bitte nachsehen?",
            ),
            (
                "de",
                "Die Rechnung ist falsch, mir wurde der Betrag zweimal abgebucht.",
            ),
            (
                "pt",
                "Olá, não consigo acessar a minha conta desde ontem. Podem me ajudar?",
            ),
            (
                "pt",
                "O meu pedido ainda não chegou e já passou uma semana. Obrigado.",
            ),
            (
                "it",
                "Buongiorno, non riesco ad accedere al mio account da ieri. Potete aiutarmi?",
            ),
            (
                "it",
                "Ho ricevuto un pacco danneggiato e vorrei un rimborso, grazie.",
            ),
            (
                "nl",
                "Hallo, ik heb mijn bestelling nog niet ontvangen. Kunt u dat voor mij nakijken?",
            ),
            (
                "nl",
                "De factuur klopt niet, het bedrag is twee keer afgeschreven van mijn rekening.",
            ),
        ];
        for (expected, text) in cases {
            assert_eq!(detect(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn detects_short_openers() {
        let cases = [
            ("en", "Hello, I need help with my order"),
            ("es", "Hola, necesito ayuda con mi pedido"),
            ("fr", "Bonjour, j'ai besoin d'aide avec ma commande"),
            ("de", "Hallo, ich brauche Hilfe mit meiner Bestellung"),
            ("pt", "Olá, preciso de ajuda com o meu pedido"),
            ("it", "Ciao, ho bisogno di aiuto con il mio ordine"),
            ("nl", "Hallo, ik heb hulp nodig met mijn bestelling"),
        ];
        for (expected, text) in cases {
            assert_eq!(detect(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn case_and_punctuation_do_not_matter() {
        assert_eq!(
            detect("HELLO, MY ORDER HAS NOT ARRIVED AND I WOULD LIKE A REFUND!!!"),
            Some("en")
        );
        assert_eq!(
            detect("¡¡HOLA!! NO PUEDO ENTRAR A MI CUENTA, POR FAVOR AYUDA"),
            Some("es")
        );
    }

    #[test]
    fn stays_silent_without_evidence() {
        for text in [
            "",
            "   ",
            "ok",
            "Hola",
            "Merci!",
            "ORD-88231 / 2024-05-01",
            "😀😀😀",
            "iPhone 15 Pro Max 256GB",
            // Too short to tell Spanish from Portuguese.
            "a de que",
            // Half English, half German.
            "The order ist nicht da and the refund is nicht gekommen",
        ] {
            assert_eq!(detect(text), None, "{text:?}");
        }
    }

    #[test]
    fn other_languages_are_not_claimed() {
        assert_eq!(
            detect("Hej, jag har inte fått min beställning ännu, kan ni kolla?"),
            None
        );
        assert_eq!(
            detect("Dzień dobry, nie otrzymałem jeszcze zamówienia."),
            None
        );
    }

    #[test]
    fn long_texts_are_read_from_the_opening() {
        let text = "Bonjour, je vous écris pour ma commande. ".repeat(10_000);
        assert_eq!(detect(&text), Some("fr"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,400}") {
            let _ = detect(&text);
        }
    }
}
