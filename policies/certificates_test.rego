package certificates_test

import data.certificates
import data.fixtures

cert := {
	"apiVersion": "acm.aws.upbound.io/v1beta2", "kind": "Certificate",
	"metadata": {"name": "shop-alb"},
	"spec": {"forProvider": {"domainName": "shop.example.com", "subjectAlternativeNames": ["*.shop.example.com"], "validationMethod": "DNS"}},
}

validation := {
	"apiVersion": "acm.aws.upbound.io/v1beta1", "kind": "CertificateValidation",
	"metadata": {"name": "shop-alb"},
	"spec": {"forProvider": {"certificateArnRef": {"name": "shop-alb"}, "validationRecordFqdns": ["_abc.shop.example.com"]}},
}

record := {
	"apiVersion": "route53.aws.upbound.io/v1beta2", "kind": "Record",
	"metadata": {"name": "prod-acm-abc"},
	"spec": {"forProvider": {"name": "_abc.shop.example.com.", "type": "CNAME", "records": ["_def.acm-validations.aws."]}},
}

good := [cert, validation, record]

denied(obj, objs) := r if {
	r := {f.rule | some f in certificates.deny} with input as obj with data.check as fixtures.check("prod", objs)
}

test_validated_certificate_is_clean if {
	every obj in good {
		denied(obj, good) == set()
	}

	# an e-mail validated certificate needs no records
	email := fixtures.set(cert, "/spec/forProvider/validationMethod", "EMAIL")
	denied(email, [email]) == set()
}

test_certificate_without_validation if {
	denied(cert, fixtures.drop(good, validation)) == {"certificates.dns-validation"}
}

test_domain_without_validation_record if {
	c := fixtures.set(cert, "/spec/forProvider/subjectAlternativeNames", ["origin.shop.example.com"])
	denied(c, fixtures.swap(good, c)) == {"certificates.dns-validation"}
}

test_validation_record_not_in_the_zone if {
	denied(validation, fixtures.drop(good, record)) == {"certificates.dns-validation"}
	a := fixtures.set(record, "/spec/forProvider/type", "A")
	denied(validation, fixtures.swap(good, a)) == {"certificates.dns-validation"}
}

test_docs if {
	every id, text in certificates.docs {
		startswith(id, "certificates.")
		text != ""
	}
}

# ACM's record for a domain is one label above it: a subdomain's record does
# not validate its parent.
test_a_subdomain_record_does_not_cover_its_parent if {
	parent := fixtures.set(cert, "/spec/forProvider/subjectAlternativeNames", ["example.com"])
	denied(parent, fixtures.swap(good, parent)) == {"certificates.dns-validation"}
	deep := fixtures.set(validation, "/spec/forProvider/validationRecordFqdns", ["_abc.x.shop.example.com"])
	denied(cert, fixtures.swap(good, deep)) == {"certificates.dns-validation"}
	no_underscore := fixtures.set(validation, "/spec/forProvider/validationRecordFqdns", ["abc.shop.example.com"])
	denied(cert, fixtures.swap(good, no_underscore)) == {"certificates.dns-validation"}

	# names compare in any case, with or without the root dot
	upper := fixtures.set(validation, "/spec/forProvider/validationRecordFqdns", ["_ABC.Shop.Example.com."])
	denied(cert, fixtures.swap(good, upper)) == set()
}

zone(name, domain) := {
	"apiVersion": "route53.aws.upbound.io/v1beta1", "kind": "Zone",
	"metadata": {"name": name},
	"spec": {"forProvider": {"name": domain}},
}

test_validation_record_in_a_zone_holding_it if {
	in_zone := fixtures.set(record, "/spec/forProvider/zoneIdRef", {"name": "shop"})
	denied(validation, [cert, validation, in_zone, zone("shop", "shop.example.com")]) == set()
	denied(validation, [cert, validation, in_zone, zone("shop", "example.com.")]) == set()
	denied(validation, [cert, validation, in_zone, zone("shop", "other.example.org")]) == {"certificates.dns-validation"}
	denied(validation, [cert, validation, in_zone]) == {"certificates.dns-validation"}
}

distribution(viewer) := {
	"apiVersion": "cloudfront.aws.upbound.io/v1beta1", "kind": "Distribution",
	"metadata": {"name": "cdn"},
	"spec": {"forProvider": {"viewerCertificate": viewer}},
}

test_cloudfront_certificate_in_us_east_1 if {
	denied(distribution({"acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/a"}), good) == set()
	denied(distribution({"acmCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/a"}), good) == {"certificates.region"}
	east := fixtures.set(cert, "/spec/forProvider/region", "us-east-1")
	denied(distribution({"acmCertificateArnRef": {"name": "shop-alb"}}), fixtures.swap(good, east)) == set()
	west := fixtures.set(cert, "/spec/forProvider/region", "us-west-2")
	denied(distribution({"acmCertificateArnRef": {"name": "shop-alb"}}), fixtures.swap(good, west)) == {"certificates.region"}
}

eks(region) := {
	"apiVersion": "eks.aws.upbound.io/v1beta1", "kind": "Cluster",
	"metadata": {"name": "shop-prod"},
	"spec": {"forProvider": {"region": region}},
}

ingress(arns) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
	"metadata": {"name": "web", "namespace": "shop", "annotations": {"alb.ingress.kubernetes.io/certificate-arn": arns}},
}

test_alb_certificates_in_the_cluster_region if {
	one := "arn:aws:acm:us-west-2:123456789012:certificate/a"
	denied(ingress(one), [eks("us-west-2")]) == set()
	denied(ingress(concat(", ", [one, "arn:aws:acm:us-east-1:123456789012:certificate/b"])), [eks("us-west-2")]) == {"certificates.region"}

	# no cluster in the set, or clusters in two regions: not judged
	denied(ingress("arn:aws:acm:us-east-1:123456789012:certificate/b"), []) == set()
	denied(ingress("arn:aws:acm:us-east-1:123456789012:certificate/b"), [eks("us-west-2"), object.union(eks("eu-west-1"), {"metadata": {"name": "other"}})]) == set()
}
