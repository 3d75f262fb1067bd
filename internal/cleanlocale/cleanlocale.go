// Package cleanlocale keeps Fyne from printing "Error parsing user locale C" on every run in a
// container or CI shell, whose locale is C.UTF-8: Fyne's lang package reads the locale in its init and
// cannot parse "C". Imported blank by main, it runs first (Go initialises packages in import-path order
// once their own imports are ready, and it imports only os), and where the locale is C or POSIX with an
// encoding it sets LANGUAGE=en, which is what the C locale means and which Fyne reads before LANG.
package cleanlocale

import (
	"os"
	"strings"
)

func init() {
	if os.Getenv("LANGUAGE") != "" {
		return
	}
	for _, key := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(key)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "C.") || strings.HasPrefix(v, "POSIX.") {
			os.Setenv("LANGUAGE", "en")
		}
		return
	}
}
