# Certificates: an ACM certificate validated by DNS is issued only once its
# validation records are in the zone; CloudFront and the ALB refuse it before.
package certificates

import data.lib

# docs describes each rule of the package: SARIF rule descriptions and the README.
docs := {
	"certificates.dns-validation": "Every DNS-validated ACM Certificate has a CertificateValidation naming it, listing one validation record per domain of the certificate (ACM's _<token>.<domain>, a wildcard's on its parent), and each listed record is a Route53 CNAME Record in the set, in a zone of the set whose name the record's ends with.",
	"certificates.region": "A CloudFront distribution's viewer certificate is an ACM certificate in us-east-1, and an ALB Ingress's certificate-arn names certificates in the region of the env's EKS cluster.",
}

certificate_key := "Certificate.acm.aws.upbound.io"

validation_key := "CertificateValidation.acm.aws.upbound.io"

validations(name) := [v | some v in lib.objects(validation_key, ""); v.spec.forProvider.certificateArnRef.name == name]

# domains of a certificate; a wildcard is validated by its parent's record.
domains(cert) := [trim_prefix(d, "*.") | some d in array.concat([cert.spec.forProvider.domainName], object.get(cert.spec.forProvider, "subjectAlternativeNames", []))]

# covers: ACM names a domain's validation record _<token>.<domain>, one
# label above the domain, so a record of a subdomain does not cover its
# parent (names compare in any case, as DNS does).
covers(validation, domain) if {
	some fqdn in validation.spec.forProvider.validationRecordFqdns
	labels := split(lower(trim_suffix(fqdn, ".")), ".")
	startswith(labels[0], "_")
	concat(".", array.slice(labels, 1, count(labels))) == lower(domain)
}

# record: a CNAME Record of the set creates fqdn, in a zone that holds it:
# a zone of the set whose name fqdn ends with, or a zone given by id (not in
# the set, so not judged).
record(fqdn) if {
	some r in lib.objects("Record.route53.aws.upbound.io", "")
	r.spec.forProvider.type == "CNAME"
	name := lower(trim_suffix(r.spec.forProvider.name, "."))
	name == lower(trim_suffix(fqdn, "."))
	in_zone(r, name)
}

in_zone(r, _) if not r.spec.forProvider.zoneIdRef

in_zone(r, name) if {
	some z in object.get(lib.index, ["Zone.route53.aws.upbound.io", "", r.spec.forProvider.zoneIdRef.name], [])
	zone := lower(trim_suffix(z.spec.forProvider.name, "."))
	endswith(concat("", [".", name]), concat("", [".", zone]))
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
	msg := sprintf("CertificateValidation %s waits for record %s, which no Route53 CNAME Record in the set creates in a zone holding that name: ACM never issues the certificate", [input.metadata.name, fqdn])
}

# certificates.region: CloudFront takes viewer certificates from ACM in
# us-east-1 only; a certificate of another region is refused
# (InvalidViewerCertificate).
deny contains lib.finding("certificates.region", msg, ["spec", "forProvider", "viewerCertificate", "acmCertificateArn"]) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	startswith(input.apiVersion, "cloudfront.aws.upbound.io/")
	arn := input.spec.forProvider.viewerCertificate.acmCertificateArn
	arn_region(arn) != "us-east-1"
	msg := sprintf("Distribution %s serves viewer certificate %s, which is in %s: CloudFront takes ACM certificates from us-east-1 only", [input.metadata.name, arn, arn_region(arn)])
}

deny contains lib.finding("certificates.region", msg, ["spec", "forProvider", "viewerCertificate", "acmCertificateArnRef", "name"]) if {
	input.kind == "Distribution" # the kind first: OPA's rule index skips the rule for other kinds
	startswith(input.apiVersion, "cloudfront.aws.upbound.io/")
	ref := input.spec.forProvider.viewerCertificate.acmCertificateArnRef.name
	some cert in object.get(lib.index, [certificate_key, "", ref], [])
	cert.spec.forProvider.region != "us-east-1"
	msg := sprintf("Distribution %s serves Certificate %s, which is made in %s: CloudFront takes ACM certificates from us-east-1 only", [input.metadata.name, ref, cert.spec.forProvider.region])
}

# certificates.region: the Load Balancer Controller attaches an ALB's
# certificates from the ALB's own region; another region's ARN fails the
# listener (CertificateNotFound).
deny contains lib.finding("certificates.region", msg, ["metadata", "annotations", "alb.ingress.kubernetes.io/certificate-arn"]) if {
	input.kind == "Ingress" # the kind first: OPA's rule index skips the rule for other kinds
	lib.has_inventory
	arns := input.metadata.annotations["alb.ingress.kubernetes.io/certificate-arn"]
	regions := {c.spec.forProvider.region | some c in lib.objects("Cluster.eks.aws.upbound.io", "")}
	count(regions) == 1
	some region in regions
	some arn in split(arns, ",")
	arn_region(trim_space(arn)) != region
	msg := sprintf("Ingress %s names certificate %s, in %s, but its cluster runs in %s: an ALB takes certificates of its own region only", [input.metadata.name, trim_space(arn), arn_region(trim_space(arn)), region])
}

arn_region(arn) := split(arn, ":")[3]
