package rails

import (
	"slices"
	"strings"
)

// operatorPrefixes are the number ranges of the mobile-money operators
// Malipo knows, in E.164 ("+25677" is MTN Uganda). They name operators the
// way rails and checkout pages do ("mtn-ug"); the longest prefix wins.
var operatorPrefixes = []struct{ prefix, operator, country string }{
	{"+25078", "mtn-rw", "RW"}, {"+25079", "mtn-rw", "RW"}, {"+25072", "airtel-rw", "RW"}, {"+25073", "airtel-rw", "RW"},
	{"+2547", "mpesa-ke", "KE"}, {"+2541", "mpesa-ke", "KE"}, {"+25473", "airtel-ke", "KE"}, {"+25475", "airtel-ke", "KE"},
	{"+25478", "airtel-ke", "KE"}, {"+25410", "airtel-ke", "KE"},
	{"+22507", "orange-ci", "CI"}, {"+22505", "mtn-ci", "CI"}, {"+22501", "moov-ci", "CI"},
	{"+22177", "orange-sn", "SN"}, {"+22178", "orange-sn", "SN"}, {"+22176", "free-sn", "SN"}, {"+22170", "expresso-sn", "SN"},
	{"+2289", "t-money-tg", "TG"}, {"+22997", "mtn-bj", "BJ"}, {"+2376", "mtn-cm", "CM"},
	{"+2557", "mpesa-tz", "TZ"}, {"+25568", "airtel-tz", "TZ"}, {"+25569", "airtel-tz", "TZ"}, {"+25578", "airtel-tz", "TZ"},
	{"+2567", "mtn-ug", "UG"}, {"+25670", "airtel-ug", "UG"}, {"+25674", "airtel-ug", "UG"}, {"+25675", "airtel-ug", "UG"},
	{"+23324", "mtn-gh", "GH"}, {"+23354", "mtn-gh", "GH"}, {"+23355", "mtn-gh", "GH"}, {"+23359", "mtn-gh", "GH"},
	{"+26096", "mtn-zm", "ZM"}, {"+26076", "mtn-zm", "ZM"}, {"+26097", "airtel-zm", "ZM"}, {"+26077", "airtel-zm", "ZM"},
}

// OperatorOf names the operator a number belongs to, "" if Malipo does
// not know its range.
func OperatorOf(msisdn string) string {
	best, op := 0, ""
	for _, p := range operatorPrefixes {
		if strings.HasPrefix(msisdn, p.prefix) && len(p.prefix) > best {
			best, op = len(p.prefix), p.operator
		}
	}
	return op
}

// OperatorsOf lists the operators Malipo knows in a country.
func OperatorsOf(country string) []string {
	var out []string
	for _, p := range operatorPrefixes {
		if p.country == country && !slices.Contains(out, p.operator) {
			out = append(out, p.operator)
		}
	}
	return out
}
