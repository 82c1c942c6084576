//! Text normalisation shared by the content checks and the classifier.

/// `c` without its accent (the Dutch vowels with diaeresis, acute, grave or circumflex).
pub fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        c => c,
    }
}

/// The words of `text`, lower-cased and accent-folded, without punctuation or emoji, joined
/// by single spaces: "Wat kost een paspoort?" and "wat kost een  paspoort" are the same.
pub fn normalize(text: &str) -> String {
    let lower: String = text.to_lowercase().chars().map(fold).collect();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_ignores_case_accents_punctuation_and_spacing() {
        assert_eq!(
            normalize("Wat kost  een Paspoort?"),
            "wat kost een paspoort"
        );
        assert_eq!(
            normalize("ik wil trouwen 💍 - geen idee..."),
            "ik wil trouwen geen idee"
        );
        assert_eq!(normalize("Ruïne café"), "ruine cafe");
        assert_eq!(normalize(" ?! "), "");
    }
}
