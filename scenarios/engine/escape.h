// Escaping of scenario text for the places a replay writes it: XML and HTML
// reports, and the terminal.
#ifndef SCENARIOS_ENGINE_ESCAPE_H_
#define SCENARIOS_ENGINE_ESCAPE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace scenarios {

// Escapes text for XML and HTML, in element content and in quoted attribute
// values: & < > " ' become entity references. Tab, line feed and carriage
// return pass unchanged. Other control characters become the four
// characters \xNN, because XML 1.0 cannot carry them at all.
std::string EscapeMarkup(std::string_view text);

// Escapes text for a terminal so that it cannot move the cursor, change
// colours, end a line or reorder or hide the text around it. C0 control
// characters (line feed and tab included), DEL and bytes that are not
// UTF-8 become \xNN. The C1 controls U+0080 to U+009F, which some
// terminals read as escape sequences, and the Unicode format characters
// and separators, such as the right-to-left override U+202E and the
// zero-width space U+200B, become \uNNNN (\UNNNNNNNN beyond U+FFFF).
std::string EscapeForTerminal(std::string_view text);

// Returns the longest prefix of `text` of at most `max_bytes` bytes that does
// not end inside a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace scenarios

#endif  // SCENARIOS_ENGINE_ESCAPE_H_
