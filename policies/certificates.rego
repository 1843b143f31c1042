# Certificates: an ACM certificate validated by DNS is issued only once its
# validation records are in the zone; CloudFront and the ALB refuse it before.
package certificates

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {"certificates.dns-validation": "Every DNS-validated ACM Certificate has a CertificateValidation naming it, listing one validation record per domain of the certificate, and each listed record is a Route53 CNAME Record in the set."}

certificate_key := "Certificate.acm.aws.upbound.io"

validation_key := "CertificateValidation.acm.aws.upbound.io"

validations(name) := [v | some v in lib.objects(validation_key, ""); v.spec.forProvider.certificateArnRef.name == name]

# domains of a certificate; a wildcard is validated by its parent's record.
domains(cert) := [trim_prefix(d, "*.") | some d in array.concat([cert.spec.forProvider.domainName], object.get(cert.spec.forProvider, "subjectAlternativeNames", []))]

covers(validation, domain) if {
	some fqdn in validation.spec.forProvider.validationRecordFqdns
	endswith(trim_suffix(fqdn, "."), concat("", [".", domain]))
}

record(fqdn) if {
	some r in lib.objects("Record.route53.aws.upbound.io", "")
	r.spec.forProvider.type == "CNAME"
	trim_suffix(r.spec.forProvider.name, ".") == trim_suffix(fqdn, ".")
}

# certificates.dns-validation: nothing waits for the certificate's validation.
deny contains lib.finding("certificates.dns-validation", msg, ["spec", "forProvider", "validationMethod"]) if {
	input.kind == "Certificate" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == certificate_key
	lib.has_inventory
	input.spec.forProvider.validationMethod == "DNS"
	count(validations(input.metadata.name)) == 0
	msg := sprintf("Certificate %s is validated by DNS, but no CertificateValidation names it: it stays pending", [input.metadata.name])
}

# certificates.dns-validation: a domain of the certificate has no record listed.
deny contains lib.finding("certificates.dns-validation", msg, ["spec", "forProvider", "domainName"]) if {
	input.kind == "Certificate" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == certificate_key
	lib.has_inventory
	input.spec.forProvider.validationMethod == "DNS"
	some v in validations(input.metadata.name)
	some domain in domains(input)
	not covers(v, domain)
	msg := sprintf("Certificate %s covers %s, but its CertificateValidation %s lists no validation record for it", [input.metadata.name, domain, v.metadata.name])
}

# certificates.dns-validation: a listed record is not in the zone.
deny contains lib.finding("certificates.dns-validation", msg, ["spec", "forProvider", "validationRecordFqdns", i]) if {
	input.kind == "CertificateValidation" # the kind first: OPA's rule index skips the rule for other kinds
	lib.key(input) == validation_key
	lib.has_inventory
	some i, fqdn in input.spec.forProvider.validationRecordFqdns
	not record(fqdn)
	msg := sprintf("CertificateValidation %s waits for record %s, which no Route53 CNAME Record in the set creates: ACM never issues the certificate", [input.metadata.name, fqdn])
}
