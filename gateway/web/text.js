// Text matching the way the catalog's search does it: case-insensitive for Cyrillic and Latin,
// "ё" equal to "е", the query taken literally as a substring of the name or the description.

export function foldText(value) {
  return String(value ?? "")
    .toLocaleLowerCase("ru")
    .replaceAll("ё", "е");
}

/** null when the course does not match; otherwise where the match is, name before description. */
export function matchCourse(course, query) {
  const needle = foldText(query.trim());
  if (!needle) return { inName: false, inDescription: false };
  const inName = foldText(course.name).includes(needle);
  const inDescription = foldText(course.description).includes(needle);
  return inName || inDescription ? { inName, inDescription } : null;
}

/**
 * Split `text` into [plain, match, plain, ...] pieces around case-insensitive occurrences of
 * `query`, for highlighting with <mark> nodes (never with HTML strings).
 */
export function splitMatches(text, query) {
  const source = String(text ?? "");
  const needle = foldText(query.trim());
  const folded = foldText(source);
  // Folding keeps the length for Cyrillic and Latin; if some character changed length the
  // positions would not line up, so such text is shown without highlighting.
  if (!needle || folded.length !== source.length) return [source];
  const pieces = [];
  let start = 0;
  for (let at = folded.indexOf(needle); at !== -1; at = folded.indexOf(needle, start)) {
    pieces.push(source.slice(start, at), source.slice(at, at + needle.length));
    start = at + needle.length;
  }
  pieces.push(source.slice(start));
  return pieces;
}

function pluralRu(count, one, few, many) {
  const mod10 = count % 10;
  const mod100 = count % 100;
  if (mod10 === 1 && mod100 !== 11) return one;
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return few;
  return many;
}

/** "1 курс", "3 курса", "12 курсов". */
export function coursesText(count) {
  return `${count} ${pluralRu(count, "курс", "курса", "курсов")}`;
}
